"""Recipe street2shop-predict: manifest + pictures folder + trained model folders -> tags dataset (+ rejected rows, summary).

``main`` calls :func:`street2shop.tagging.predict.tag_catalogue`.
"""

from __future__ import annotations

import json
import logging
import tempfile

from street2shop.dss import recipe_io
from street2shop.dss.model_io import materialize_folders
from street2shop.dss.params import predict_params
from street2shop.errors import InvalidParameter
from street2shop.storage.managed_folder import FolderImageStore, folder_write
from street2shop.tagging.predict import tag_catalogue

logger = logging.getLogger(__name__)

SUMMARY_FILE = "summary.json"


def main() -> None:
    """Tag the manifest's pictures with each connected model; the tags and rejected rows datasets, the summary."""
    # 1. Read the config and the inputs.
    params = predict_params(recipe_io.config())
    manifest = recipe_io.input_frame("manifest")
    images = FolderImageStore(recipe_io.input_folder("images"))
    model_folders = recipe_io.input_folders("models")
    if not model_folders:
        raise InvalidParameter("connect at least one trained model folder to the 'Trained models' input")
    with tempfile.TemporaryDirectory(prefix="street2shop-models-") as local:
        models = materialize_folders(model_folders, local)
        # 2. One library call.
        report = tag_catalogue(
            manifest=manifest,
            images=images,
            models=models,
            threshold=params.threshold,
            products=params.products,
            disagreements=params.disagreements,
            segment=params.segment,
            batch_size=params.batch_size,
            max_pixels=params.max_pixels,
        )
    # 3. Write the outputs.
    recipe_io.write_output_frame("tags", report.tags)
    recipe_io.write_output_frame("errors", report.errors, required=False)
    summary_folder = recipe_io.output_folder("summary", required=False)
    if summary_folder is not None:
        folder_write(summary_folder, SUMMARY_FILE, (json.dumps(report.summary, indent=2) + "\n").encode())
    logger.info("summary: %s", json.dumps(report.summary))
