"""The scenario steps' bodies, one module per ``python-steps/street2shop-<name>`` folder, each with ``main()``:
read the step config, one library call, set the scenario variables (or fail the step)."""
