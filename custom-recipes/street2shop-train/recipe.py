"""Recipe street2shop-train: manifest + pictures folder (+ mask model) -> one attribute model folder (+ rejected rows)."""

from street2shop.dss.boundary import run_component
from street2shop.dss.recipes.train import main

run_component("street2shop-train", main)
