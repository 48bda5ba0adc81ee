"""Recipe street2shop-scrape: site spec folder -> products + visited ids (datasets) + pictures/state folder, per category."""

from street2shop.dss.boundary import run_component
from street2shop.dss.recipes.scrape import main

run_component("street2shop-scrape", main)
