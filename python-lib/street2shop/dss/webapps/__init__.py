"""The webapps' backends, one module per ``webapps/street2shop-<name>`` folder, each with ``main(app)``:
read the config and folders, register the routes on the Flask ``app`` DSS injects."""
