"""Recipe street2shop-predict: manifest + pictures + trained model folders -> tags dataset (+ rejected rows, summary)."""

from street2shop.dss.boundary import run_component
from street2shop.dss.recipes.predict import main

run_component("street2shop-predict", main)
