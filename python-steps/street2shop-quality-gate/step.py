"""Step street2shop-quality-gate: top-k accuracy of an index on user photos; fails under the threshold."""

from street2shop.dss.boundary import run_component
from street2shop.dss.steps.quality_gate import main

run_component("street2shop-quality-gate", main)
