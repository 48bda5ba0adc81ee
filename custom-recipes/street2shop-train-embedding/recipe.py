"""Recipe street2shop-train-embedding: manifest + pictures folder -> a metric embedding model folder (+ rejected rows)."""

from street2shop.dss.boundary import run_component
from street2shop.dss.recipes.train_embedding import main

run_component("street2shop-train-embedding", main)
