"""Step street2shop-refresh-api: new package -> deployment updated and checked; rolled back if the checks fail."""

from street2shop.dss.boundary import run_component
from street2shop.dss.steps.refresh_api import main

run_component("street2shop-refresh-api", main)
