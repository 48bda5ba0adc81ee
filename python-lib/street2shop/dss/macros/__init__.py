"""The macros' bodies, one module per ``python-runnables/street2shop-<name>`` folder, each with
``run(project_key, config, progress)`` (what the ``Runnable`` in ``runnable.py`` calls): one library call, an HTML report."""
