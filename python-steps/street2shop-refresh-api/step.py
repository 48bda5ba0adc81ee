"""Step street2shop-refresh-api: new package -> deployment updated and checked; rolled back if the checks fail."""

from dataiku.customstep import get_step_config

from street2shop.dss.boundary import run_component
from street2shop.dss.macros.deploy_api import refresh_api_main

run_component("street2shop-refresh-api", lambda: refresh_api_main(get_step_config() or {}))
