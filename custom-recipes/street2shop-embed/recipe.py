"""Recipe street2shop-embed: manifest + pictures folder (+ trained model folders, mask model) -> index folder (+ rejected rows)."""

from street2shop.dss.boundary import run_component
from street2shop.dss.recipes.embed import main

run_component("street2shop-embed", main)
