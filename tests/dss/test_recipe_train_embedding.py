"""Recipe street2shop-train-embedding through the dataiku double (one run) and its config parsing."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from street2shop.errors import InvalidParameter
from tiny_models import write_catalogue

CONFIG = {"image_size": 32, "width": 4, "dim": 8, "epochs": 1, "steps_per_epoch": 2, "products_per_batch": 4,
          "loss": "margin-softmax", "weights_source": "none", "use_split_column": False, "validation_share": 0.25,
          "seed": 1, "model_name": "street"}


def test_config_is_checked():
    from street2shop.dss.params import embedding_params

    settings, weights = embedding_params(CONFIG)
    assert settings.loss.name == "margin-softmax" and settings.size == 32 and weights == "none"
    assert settings.use_split_column is False and settings.time_budget_s is None
    with pytest.raises(InvalidParameter):
        embedding_params({"backbone": "bdn"})
    with pytest.raises(InvalidParameter):
        embedding_params({"loss": "softmax"})


def test_recipe_publishes_an_embedding_folder_and_rejected_rows(tmp_path):
    from dss_harness import DSSProject, storage
    from street2shop.models.loading import load_encoder

    images, catalog, queries = write_catalogue(tmp_path / "data", n_products=8)
    manifest = pd.concat([pd.read_csv(catalog, dtype=str), pd.read_csv(queries, dtype=str)], ignore_index=True)
    manifest.loc[len(manifest)] = {"image": "shop/corrupt.jpg", "product_id": "p9", "source": "shop", "pair_id": "pair9",
                                   "type": "skirts", "colours": "green"}
    files = {str(p.relative_to(images)): p.read_bytes() for p in images.rglob("*") if p.is_file()}
    files["shop/corrupt.jpg"] = files["shop/p1.jpg"][:100]
    project = DSSProject(tmp_path / "project")
    project.add_folder("pictures", name="pictures", files=files)
    project.add_dataset("manifest", manifest)
    project.add_folder("embedding", name="embedding")
    project.add_dataset("rejected")
    project.run_recipe(
        "street2shop-train-embedding",
        inputs={"manifest": ["manifest"], "images": ["pictures"]},
        outputs={"model": ["embedding"], "errors": ["rejected"]},
        config=CONFIG,
    )
    assert list(project.read_dataset("rejected")["image"]) == ["shop/corrupt.jpg"]
    root = storage.folder_files_dir(project.root, project.project_key, "embedding")
    version = root / json.loads((root / "street2shop-current.json").read_text())["current"]
    for name in ("encoder.json", "model.keras", "learning_curves.png", "retrieval.png", "synthesis.png", "history.csv"):
        assert (version / name).is_file(), name
    encoder = load_encoder(version)
    assert encoder.name == "street" and encoder.info["loss"] == "margin-softmax" and encoder.dim == 8
