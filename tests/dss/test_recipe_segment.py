"""The segment recipe through the ``dataiku`` double: pictures + a user mask model -> segmented folder and boxes."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd

from dss_harness import DSSProject, storage
from street2shop.images.decode import decode_image, encode_jpeg, encode_png
from street2shop.segmentation.mask_model import save_mask_model
from garment_pictures import build_red_model, iou, red_on_clutter


def test_segment_recipe_uses_the_mask_model_and_reports_bad_rows(tmp_path):
    picture, truth = red_on_clutter()
    shop = np.full((200, 160, 3), 255, np.uint8)
    shop[40:170, 40:120] = (30, 60, 200)
    model_dir = save_mask_model(build_red_model(), tmp_path / "model")
    project = DSSProject(tmp_path / "project")
    project.add_folder("pictures", files={"user.png": encode_png(picture), "shop.jpg": encode_jpeg(shop), "bad.jpg": b"\xff\xd8 nope"})
    project.add_folder("mask_model", files={p.name: p.read_bytes() for p in model_dir.iterdir()})
    project.add_dataset("manifest", pd.DataFrame({"image": ["user.png", "shop.jpg", "bad.jpg"], "product_id": ["a", "b", "c"]}))
    project.add_folder("segmented")
    project.add_dataset("boxes")
    project.add_dataset("rejected")
    project.run_recipe(
        "street2shop-segment",
        inputs={"manifest": ["manifest"], "images": ["pictures"], "mask_model": ["mask_model"]},
        outputs={"segmented": ["segmented"], "boxes": ["boxes"], "errors": ["rejected"]},
        config={"background": "white", "margin": 0.1, "work_size": 256, "iterations": 5, "max_pixels": 10_000_000},
    )
    boxes = project.read_dataset("boxes").set_index("image")
    assert boxes.loc["user.png", "method"] == "model"
    assert boxes.loc["shop.jpg", "method"] == "border"  # the model sees no red there: the plain background gives the box
    rejected = project.read_dataset("rejected")
    assert rejected["image"].tolist() == ["bad.jpg"]
    root = storage.folder_files_dir(project.root, project.project_key, "segmented")
    current = json.loads((root / "street2shop-current.json").read_text())["current"]
    mask = decode_image((root / current / "masks" / "user.png").read_bytes())[:, :, 0]
    assert iou(mask > 127, truth > 0) >= 0.9
    assert (root / current / "segmented" / "user.jpg").is_file()
