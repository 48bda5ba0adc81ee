"""Recipe street2shop-evaluate: index folder + queries + pictures -> metrics dataset (+ report folder)."""

from street2shop.dss.boundary import run_component
from street2shop.dss.recipes.evaluate import main

run_component("street2shop-evaluate", main)
