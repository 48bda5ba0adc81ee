"""Recipe street2shop-dedup: manifest + pictures (+ index vectors, + existing catalogue) -> pairs, groups, deduplicated manifest, report."""

from street2shop.dss.boundary import run_component
from street2shop.dss.recipes.dedup import main

run_component("street2shop-dedup", main)
