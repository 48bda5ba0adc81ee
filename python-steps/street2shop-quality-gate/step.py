"""Step street2shop-quality-gate: top-k accuracy of an index on user photos; fails under the threshold."""

from dataiku.customstep import get_step_config

from street2shop.dss.boundary import run_component
from street2shop.dss.macros.deploy_api import quality_gate_main

run_component("street2shop-quality-gate", lambda: quality_gate_main(get_step_config() or {}))
