"""Recipe street2shop-train-embedding: manifest + pictures folder -> a metric embedding model folder (+ rejected rows).

``main`` calls :func:`street2shop.training.embedding_job.train_embedding_model`.
"""

from __future__ import annotations

import dataclasses
import logging
import tempfile

from street2shop.dss import recipe_io
from street2shop.dss.model_io import local_weights
from street2shop.dss.params import embedding_params
from street2shop.storage.managed_folder import FolderImageStore
from street2shop.storage.publish import FolderOutputDir
from street2shop.training.embedding_job import train_embedding_model

logger = logging.getLogger(__name__)


def main() -> None:
    """Read the recipe's config and inputs, train, publish the model folder and the rejected rows."""
    # 1. Read the config and the inputs.
    settings, weights = embedding_params(recipe_io.config())
    manifest = recipe_io.input_frame("manifest")
    images = FolderImageStore(recipe_io.input_folder("images"))
    weights_folder = recipe_io.input_folder("weights", required=False)
    with tempfile.TemporaryDirectory(prefix="street2shop-weights-") as local:
        weights = local_weights(weights, weights_folder, local)
        # 2. One library call.
        report = train_embedding_model(
            manifest=manifest,
            images=images,
            output=FolderOutputDir(recipe_io.output_folder("model")),
            settings=dataclasses.replace(settings, weights=str(weights)),
        )
    # 3. Write the outputs.
    logger.info("metric embedding: %s", report.summary)
    recipe_io.write_output_frame("errors", report.errors, required=False)
