"""Recipe street2shop-segment: manifest + pictures (+ mask model) -> segmented pictures and masks folder + boxes dataset.

``main`` calls :func:`street2shop.segmentation.job.segment_images`.
"""

from __future__ import annotations

import tempfile

from street2shop.dss import recipe_io
from street2shop.dss.params import segment_params
from street2shop.segmentation.mask_model import load_mask_model
from street2shop.segmentation.job import segment_images
from street2shop.segmentation.params import SegmentParams
from street2shop.storage.managed_folder import FolderImageStore
from street2shop.storage.publish import FolderOutputDir
from street2shop.storage.stores import ImageSource
from street2shop.storage.published import open_published


def main() -> None:
    """Cut the garments out of the pictures; the cut-outs and masks folder, the boxes dataset."""
    # 1. Read the config and the inputs.
    params = segment_params(recipe_io.config())
    manifest = recipe_io.input_frame("manifest")
    images = ImageSource(FolderImageStore(recipe_io.input_folder("images")))
    model_folder = recipe_io.input_folder("mask_model", required=False)
    with tempfile.TemporaryDirectory(prefix="street2shop-mask-model-") as local_model:
        mask_model = load_mask_model(open_published(model_folder).materialize(local_model)) if model_folder else None
        # 2. One library call.
        report = segment_images(
            images,
            manifest,
            FolderOutputDir(recipe_io.output_folder("segmented")),
            params=SegmentParams.from_dict({"margin": params.margin, "work_size": params.work_size, "iterations": params.iterations}),
            mask_model=mask_model,
            background=params.background,
            max_pixels=params.max_pixels,
        )
    # 3. Write the datasets.
    recipe_io.write_output_frame("boxes", report.boxes)
    recipe_io.write_output_frame("errors", report.errors, required=False)

