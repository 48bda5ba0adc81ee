"""Step street2shop-check-duplicates: the latest dedup output's duplicate count; fails (or warns) above the allowed count."""

from dataiku.customstep import get_step_config

from street2shop.dss.boundary import run_component
from street2shop.dss.recipes.dedup import check_duplicates_main

run_component("street2shop-check-duplicates", lambda: check_duplicates_main(get_step_config() or {}))
