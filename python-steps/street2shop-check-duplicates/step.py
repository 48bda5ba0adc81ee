"""Step street2shop-check-duplicates: the latest dedup output's duplicate count; fails (or warns) above the allowed count."""

from street2shop.dss.boundary import run_component
from street2shop.dss.steps.check_duplicates import main

run_component("street2shop-check-duplicates", main)
