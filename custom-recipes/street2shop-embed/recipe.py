"""Recipe street2shop-embed: manifest + pictures folder (+ trained model folders, mask model) -> index folder (+ rejected rows)."""

import tempfile

from street2shop.dss import recipe_io
from street2shop.dss.boundary import run_component
from street2shop.dss.model_io import input_folders, materialize_folders
from street2shop.dss.params import embed_params
from street2shop.errors import InvalidParameter
from street2shop.jobs import embed_catalogue
from street2shop.storage import FolderImageStore, FolderOutputDir, open_published


def main() -> None:
    # 1. Read the config and the inputs.
    params = embed_params(recipe_io.config())
    manifest = recipe_io.input_frame("manifest")
    images = FolderImageStore(recipe_io.input_folder("images"))
    weights_folder = recipe_io.input_folder("weights", required=False)
    model_folders = input_folders("models")
    mask_folder = recipe_io.input_folder("mask_model", required=False)
    with (
        tempfile.TemporaryDirectory(prefix="street2shop-weights-") as local,
        tempfile.TemporaryDirectory(prefix="street2shop-mask-model-") as local_mask,
    ):
        weights = params.weights_source
        models = materialize_folders(model_folders, local) if model_folders else None
        mask_model = open_published(mask_folder).materialize(local_mask) if mask_folder else None
        if weights == "folder" and not models:
            if weights_folder is None:
                raise InvalidParameter("'Weights' is 'From the weights folder' but no weights folder is connected")
            weights = open_published(weights_folder).materialize(local)
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
        )
    # 3. Write the other outputs.
    recipe_io.write_output_frame("errors", report.errors, required=False)


run_component("street2shop-embed", main)
