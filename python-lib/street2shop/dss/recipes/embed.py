"""Recipe street2shop-embed: manifest + pictures folder (+ trained model folders, mask model) -> index folder (+ rejected rows).

``main`` calls :func:`street2shop.index.build.embed_catalogue`.
"""

from __future__ import annotations

import tempfile

from street2shop.dss import recipe_io
from street2shop.dss.model_io import fit_queries, local_weights, materialize_folders, materialize_optional
from street2shop.dss.params import embed_params
from street2shop.index.build import embed_catalogue
from street2shop.storage.managed_folder import FolderImageStore
from street2shop.storage.publish import FolderOutputDir


def main() -> None:
    """Embed the catalogue into an index folder; the rejected rows to the errors dataset."""
    # 1. Read the config and the inputs.
    params = embed_params(recipe_io.config())
    manifest = recipe_io.input_frame("manifest")
    images = FolderImageStore(recipe_io.input_folder("images"))
    weights_folder = recipe_io.input_folder("weights", required=False)
    model_folders = recipe_io.input_folders("models")
    mask_folder = recipe_io.input_folder("mask_model", required=False)
    queries = fit_queries(params.fit_weights)
    with (
        tempfile.TemporaryDirectory(prefix="street2shop-weights-") as local,
        tempfile.TemporaryDirectory(prefix="street2shop-mask-model-") as local_mask,
    ):
        models = materialize_folders(model_folders, local) if model_folders else None
        mask_model = materialize_optional(mask_folder, local_mask)
        # Trained models carry their own weights: the backbone's are only needed without them.
        weights = params.weights_source if models else local_weights(params.weights_source, weights_folder, local)
        # 2. One library call.
        report = embed_catalogue(
            manifest=manifest,
            images=images,
            output=FolderOutputDir(recipe_io.output_folder("index")),
            models=models,
            model_weights=params.model_weights,
            encoding_layer=params.encoding_layer,
            backbone=params.backbone,
            weights=weights,
            image_size=params.image_size,
            batch_size=params.batch_size,
            index_type=params.index_type,
            max_pixels=params.max_pixels,
            segment=params.segment,
            mask_model=mask_model,
            descriptors=params.descriptors,
            fit_queries=queries,
            fit_split=params.fit_split,
            fit_objective=params.fit_objective,
            # Without usable user photos, 'Fit part weights' fits on synthesised ones.
            fit_synthesised=params.fit_synthesised_products if params.fit_weights else None,
        )
    # 3. Write the other outputs.
    recipe_io.write_output_frame("errors", report.errors, required=False)

