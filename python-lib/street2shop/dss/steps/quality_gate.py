"""Step street2shop-quality-gate: top-k accuracy of an index on user photos; fails under the threshold.

``main`` evaluates with :func:`street2shop.evaluation.job.evaluate_catalogue` and sets the figures as
scenario variables.
"""

from __future__ import annotations

import logging
from typing import Any

import dataiku
from dataiku.customstep import get_step_config
from dataiku.scenario import Scenario

from street2shop.dss.frames import read_frame
from street2shop.dss.serving_params import gate_params
from street2shop.errors import Street2ShopError

logger = logging.getLogger(__name__)


class QualityGateFailed(Street2ShopError):
    """The index's top-k accuracy is under the step's threshold."""


def main() -> dict[str, Any]:
    """Evaluate the index on the queries, set the figures as scenario variables, fail under the threshold."""
    from street2shop.evaluation.retrieval import DEFAULT_KS
    from street2shop.evaluation.job import evaluate_catalogue
    from street2shop.storage.managed_folder import FolderImageStore

    # 1. Read the config and the inputs.
    params = gate_params(get_step_config() or {})
    queries = read_frame(dataiku.Dataset(params.queries))
    # 2. One library call.
    result = evaluate_catalogue(
        index=dataiku.Folder(params.index_folder),
        queries=queries,
        images=FolderImageStore(dataiku.Folder(params.pictures_folder)),
        ks=sorted(set(DEFAULT_KS) | {params.k}),
    )
    # 3. Set the scenario variables; fail under the threshold.
    accuracy = float(result.top_k[str(params.k)])
    passed = accuracy >= params.min_accuracy
    prefix = params.variable_prefix
    variables = {
        f"{prefix}top_k_accuracy": accuracy,
        f"{prefix}k": params.k,
        f"{prefix}min_accuracy": params.min_accuracy,
        f"{prefix}queries": result.queries,
        f"{prefix}gallery": result.gallery,
        f"{prefix}unreadable_queries": int(len(result.errors)),
        f"{prefix}gate_passed": passed,
        **{f"{prefix}top_{k}": value for k, value in result.top_k.items()},
    }
    Scenario().set_scenario_variables(**variables)
    logger.info("top-%d accuracy %.4f on %d queries (threshold %.4f)", params.k, accuracy, result.queries, params.min_accuracy)
    if not passed:
        raise QualityGateFailed(
            f"top-{params.k} accuracy {accuracy:.4f} on {result.queries} queries is under the threshold {params.min_accuracy:.4f}"
        )
    return variables
