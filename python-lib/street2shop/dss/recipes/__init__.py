"""The custom recipes' bodies, one module per ``custom-recipes/street2shop-<name>`` folder, each with ``main()``:
read the config and inputs, one library call, write the outputs."""
