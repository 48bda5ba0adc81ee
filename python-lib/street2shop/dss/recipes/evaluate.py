"""Recipe street2shop-evaluate: index folder + queries + pictures -> metrics dataset (+ report folder).

``main`` calls :func:`street2shop.evaluation.job.evaluate_catalogue`.
"""

from __future__ import annotations

from street2shop.dss import recipe_io
from street2shop.dss.params import evaluate_params
from street2shop.evaluation.retrieval import DEFAULT_KS
from street2shop.evaluation.job import evaluate_catalogue
from street2shop.storage.managed_folder import FolderImageStore
from street2shop.storage.publish import FolderOutputDir


def main() -> None:
    """Score the index on the user photos; the metrics dataset and, when connected, the report folder."""
    # 1. Read the config and the inputs.
    params = evaluate_params(recipe_io.config())
    report_folder = recipe_io.output_folder("report", required=False)
    # 2. One library call.
    result = evaluate_catalogue(
        index=recipe_io.input_folder("index"),
        queries=recipe_io.input_frame("queries"),
        images=FolderImageStore(recipe_io.input_folder("images")),
        ks=sorted(set(DEFAULT_KS) | {params.top_k}),
        batch_size=params.batch_size,
        report=FolderOutputDir(report_folder) if report_folder is not None else None,
    )
    # 3. Write the outputs.
    recipe_io.write_output_frame("metrics", result.metrics_frame())

