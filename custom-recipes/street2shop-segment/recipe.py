"""Recipe street2shop-segment: manifest + pictures (+ mask model) -> segmented pictures and masks folder + boxes dataset."""

from street2shop.dss.boundary import run_component
from street2shop.dss.recipes.segment import main

run_component("street2shop-segment", main)
