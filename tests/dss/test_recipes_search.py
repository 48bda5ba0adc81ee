"""The embed and evaluate recipes run end to end as DSS runs them, through the ``dataiku`` double."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from dss_harness import DSSProject, storage
from street2shop.index.search import SearchIndex
from tiny_models import write_catalogue

EMBED_CONFIG = {"backbone": "mobilenetv3small", "weights_source": "folder", "image_size": 32, "batch_size": 4, "index_type": "flat", "max_pixels": 50_000_000}


@pytest.fixture(scope="module")
def project(tmp_path_factory):
    """A project with a partitioned manifest, a pictures folder (with bad files) and a weights folder."""
    import keras

    from street2shop.models.backbones import build_feature_extractor

    root = tmp_path_factory.mktemp("dss")
    images, catalog, queries = write_catalogue(root / "local", n_products=6)
    files = {str(p.relative_to(images)): p.read_bytes() for p in images.rglob("*") if p.is_file()}
    files["broken.jpg"] = files["shop/p0.jpg"][:100]
    project = DSSProject(root / "project")
    project.add_folder("pictures", name="pictures", files=files)
    manifest = pd.read_csv(catalog, dtype=str)
    bad = pd.DataFrame([{"image": "broken.jpg", "product_id": "b1", "type": "skirts", "colours": "", "source": "shop", "pair_id": "x"}])
    project.add_dataset(
        "manifest",
        partitions={"spring": manifest.iloc[:3], "autumn": pd.concat([manifest.iloc[3:], bad], ignore_index=True)},
        partitioning_dimension="season",
    )
    project.add_dataset("queries", pd.read_csv(queries, dtype=str))
    keras.utils.set_random_seed(0)
    model = build_feature_extractor("mobilenetv3small", "none", 32)
    base = next(layer for layer in model.layers if isinstance(layer, keras.Model))
    weights = root / "notop.weights.h5"
    base.save_weights(weights)
    project.add_folder("weights", name="weights", files={"mobilenetv3small_notop.weights.h5": weights.read_bytes()})
    project.add_folder("index", name="index")
    project.add_folder("report", name="report")
    project.add_dataset("rejected")
    project.add_dataset("metrics")
    return project


def folder_root(project: DSSProject, folder: str):
    return storage.folder_files_dir(project.root, project.project_key, folder)


@pytest.fixture(scope="module")
def embedded(project):
    project.run_recipe(
        "street2shop-embed",
        inputs={"manifest": ["manifest"], "images": ["pictures"], "weights": ["weights"]},
        outputs={"index": ["index"], "errors": ["rejected"]},
        config=EMBED_CONFIG,
        read_partitions={"manifest": ["spring", "autumn"]},
    )
    return project


def test_embed_recipe_indexes_both_partitions_and_reports_bad_rows(embedded):
    rejected = embedded.read_dataset("rejected")
    assert rejected["image"].tolist() == ["broken.jpg"] and "truncated" in rejected["reason"].iloc[0]
    pointer = json.loads((folder_root(embedded, "index") / "street2shop-current.json").read_text())
    index = SearchIndex.load(folder_root(embedded, "index"))
    assert len(index) == 6 and pointer["current"].startswith("v-")
    assert index.info["settings"]["backbone"] == "mobilenetv3small"


def test_evaluate_recipe_writes_metrics_and_report(embedded):
    embedded.run_recipe(
        "street2shop-evaluate",
        inputs={"index": ["index"], "queries": ["queries"], "images": ["pictures"]},
        outputs={"metrics": ["metrics"], "report": ["report"]},
        config={"top_k": 3, "batch_size": 4},
    )
    metrics = embedded.read_dataset("metrics")
    assert metrics["k"].tolist() == [1, 3, 5, 10, 20]
    accuracy = metrics["top_k_accuracy"].to_numpy(dtype=float)
    assert np.all(np.diff(accuracy) >= 0) and accuracy[-1] == 1.0 and metrics["queries"].iloc[0] == 6
    files = {path.rsplit("/", 1)[-1] for path in embedded.folder_files("report")}
    assert {"report.html", "gallery.png", "metrics.json"} <= files


def test_rebuilding_from_one_partition_replaces_the_old_version(embedded):
    # Runs after the evaluation, which reads the full index.
    before = json.loads((folder_root(embedded, "index") / "street2shop-current.json").read_text())["current"]
    embedded.run_recipe(
        "street2shop-embed",
        inputs={"manifest": ["manifest"], "images": ["pictures"], "weights": ["weights"]},
        outputs={"index": ["index"]},
        config=EMBED_CONFIG,
        read_partitions={"manifest": ["spring"]},
    )
    versions = sorted(p.name for p in folder_root(embedded, "index").iterdir() if p.name.startswith("v-"))
    assert len(versions) == 1 and versions[0] != before
    assert len(SearchIndex.load(folder_root(embedded, "index"))) == 3


def test_weights_folder_choice_without_a_folder_is_a_clear_error(project):
    project.add_folder("index_none", name="index_none")
    done = project.run_recipe(
        "street2shop-embed",
        inputs={"manifest": ["manifest"], "images": ["pictures"]},
        outputs={"index": ["index_none"]},
        config=EMBED_CONFIG,
        check=False,
    )
    assert done.returncode != 0
    assert "no weights folder is connected" in done.stderr
    assert project.folder_files("index_none") == {}


def test_bad_parameters_are_named(project):
    done = project.run_recipe(
        "street2shop-embed",
        inputs={"manifest": ["manifest"], "images": ["pictures"], "weights": ["weights"]},
        outputs={"index": ["index"]},
        config={**EMBED_CONFIG, "index_type": "annoy"},
        check=False,
    )
    assert done.returncode != 0 and "'index_type'" in done.stderr and "annoy" in done.stderr


def test_embed_recipe_adds_descriptors_and_fits_weights_on_user_photos(project):
    project.add_folder("index_fused", name="index_fused")
    project.run_recipe(
        "street2shop-embed",
        inputs={"manifest": ["manifest"], "images": ["pictures"], "weights": ["weights"], "queries": ["queries"]},
        outputs={"index": ["index_fused"]},
        config={**EMBED_CONFIG, "descriptors": True, "descriptor_size": 32, "fit_weights": True, "fit_split": ""},
        read_partitions={"manifest": ["spring", "autumn"]},
    )
    index = SearchIndex.load(folder_root(project, "index_fused"))
    layout, fusion = index.info["layout"], index.info["fusion"]
    assert [part["name"] for part in layout][-1] == "descriptors" and len(layout) == 2
    assert fusion["validation"]["queries"] > 0 and fusion["pairs"] == "real"
    assert [part["weight"] for part in layout] == pytest.approx(fusion["model_weights"])


def test_embed_recipe_fits_weights_on_synthesised_photos_without_user_photos(project):
    project.add_folder("index_synthesised", name="index_synthesised")
    done = project.run_recipe(
        "street2shop-embed",
        inputs={"manifest": ["manifest"], "images": ["pictures"], "weights": ["weights"]},
        outputs={"index": ["index_synthesised"]},
        config={**EMBED_CONFIG, "descriptors": True, "descriptor_size": 32, "fit_weights": True, "fit_synthesised_products": 4},
        read_partitions={"manifest": ["spring", "autumn"]},
    )
    index = SearchIndex.load(folder_root(project, "index_synthesised"))
    layout, fusion = index.info["layout"], index.info["fusion"]
    assert fusion["pairs"] == "synthesised" and fusion["validation"]["queries"] == 4
    assert [part["weight"] for part in layout] == pytest.approx(fusion["model_weights"])
    assert "fitting on synthesised user photos" in done.stderr
