"""Recipe street2shop-train: manifest + pictures folder (+ mask model) -> one attribute model folder (+ rejected rows).

``main`` calls :func:`street2shop.training.job.train_attribute_model`.
"""

from __future__ import annotations

import dataclasses
import tempfile

from street2shop.dss import recipe_io
from street2shop.dss.model_io import local_weights, materialize_optional
from street2shop.dss.params import train_params
from street2shop.errors import InvalidParameter
from street2shop.segmentation.step import segment_step
from street2shop.storage.managed_folder import FolderImageStore
from street2shop.storage.publish import FolderOutputDir
from street2shop.training.job import train_attribute_model


def main() -> None:
    """Train one attribute model into the model folder; the rejected rows to the errors dataset."""
    # 1. Read the config and the inputs.
    params = train_params(recipe_io.config())
    manifest = recipe_io.input_frame("manifest")
    images = FolderImageStore(recipe_io.input_folder("images"))
    weights_folder = recipe_io.input_folder("weights", required=False)
    mapping = recipe_io.optional_frame("mapping")
    if mapping is None:
        mapping = params.mapping
    elif params.mapping:
        raise InvalidParameter("give the label mapping either as a dataset or as the 'Mapping' parameter, not both")
    duplicates = recipe_io.optional_frame("duplicates")
    mask_folder = recipe_io.input_folder("mask_model", required=False)
    with (
        tempfile.TemporaryDirectory(prefix="street2shop-weights-") as local_weights_dir,
        tempfile.TemporaryDirectory(prefix="street2shop-mask-model-") as local_mask,
    ):
        transform = segment_step(params.segment, materialize_optional(mask_folder, local_mask))
        weights = local_weights(params.weights_source, weights_folder, local_weights_dir)
        settings = dataclasses.replace(params.settings, weights=str(weights))
        # 2. One library call.
        report = train_attribute_model(
            manifest=manifest,
            images=images,
            output=FolderOutputDir(recipe_io.output_folder("model")),
            settings=settings,
            mapping=mapping,
            duplicates=duplicates,
            transform=transform,
        )
    # 3. Write the other outputs.
    recipe_io.write_output_frame("errors", report.errors, required=False)

