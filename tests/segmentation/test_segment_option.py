"""The ``segment`` option: recorded by embed and train, rebuilt by search and serving so queries are cut out like the catalogue."""

from __future__ import annotations

import hashlib
import json
import logging

import numpy as np
import pandas as pd
import pytest

from cli_runner import street2shop
from dss_harness import DSSProject, storage
from serving_support import b64
from street2shop.models.encoder import save_encoder
from street2shop.errors import FingerprintMismatch, InvalidParameter
from street2shop.images.decode import decode_image
from street2shop.index.build import embed_catalogue, make_embedder, warn_segment_mismatch
from street2shop.segmentation.mask_model import MODEL_FILE, load_mask_model, save_mask_model
from street2shop.index.search import SearchIndex
from street2shop.segmentation.step import MASK_MODEL_DIR, SegmentStep, segment_step
from street2shop.segmentation.garment import SegmentParams, segment_and_crop
from street2shop.storage.publish import LocalOutputDir
from garment_pictures import build_red_model, red_on_clutter
from tiny_models import tiny_encoder, write_catalogue

PARAMS = SegmentParams(margin=0.2)


@pytest.fixture(scope="module")
def workspace(tmp_path_factory):
    """A tiny catalogue, a tiny encoder folder and a mask model folder (marks red pixels)."""
    root = tmp_path_factory.mktemp("segment-option")
    images, catalog, queries = write_catalogue(root, n_products=6)
    encoder_dir = save_encoder(tiny_encoder(), root / "encoder")
    mask_dir = save_mask_model(build_red_model(), root / "mask-model", threshold=0.5)
    return {"root": root, "images": images, "catalog": catalog, "queries": queries, "encoder": encoder_dir, "mask": mask_dir}


@pytest.fixture(scope="module")
def segmented_index(workspace):
    out = workspace["root"] / "index-segmented"
    report = embed_catalogue(
        manifest=workspace["catalog"], images=workspace["images"], output=LocalOutputDir(out),
        models=[workspace["encoder"]], batch_size=4, segment=PARAMS, mask_model=workspace["mask"],
    )
    assert report.indexed == 6 and report.errors.empty
    return out


def test_embed_records_the_settings_and_bundles_the_mask_model(workspace, segmented_index):
    info = json.loads((segmented_index / "index.json").read_text())
    settings = info["settings"]
    assert settings["segment"] == PARAMS.as_dict() and settings["segment"]["margin"] == 0.2
    fingerprint = hashlib.sha256((workspace["mask"] / MODEL_FILE).read_bytes()).hexdigest()
    assert settings["segment_mask_model"] == {"fingerprint": fingerprint, "folder": MASK_MODEL_DIR}
    assert (segmented_index / MASK_MODEL_DIR / MODEL_FILE).read_bytes() == (workspace["mask"] / MODEL_FILE).read_bytes()

    index = SearchIndex.load(segmented_index)
    step = index.embedder.transform
    assert isinstance(step, SegmentStep) and step.params == PARAMS and step.mask_model.fingerprint == fingerprint
    # The catalogue's vectors are those of the cut-out pictures, not of the raw ones.
    catalog = pd.read_csv(workspace["catalog"], dtype=str)
    picture_bytes = (workspace["images"] / catalog.iloc[2]["image"]).read_bytes()
    answer = index.answer(picture_bytes, k=3)
    assert answer.segmented is True and "segment" in answer.timing_ms
    assert answer.results[0]["product_id"] == catalog.iloc[2]["product_id"] and answer.results[0]["score"] > 0.999
    pixels = decode_image(picture_bytes, max_pixels=10**7, name="q")
    raw = index.embedder.embed_arrays([pixels], cuts=[pixels])  # the "cut" is the whole picture
    cut = index.embedder.embed_arrays([pixels])
    # The query matched its product at ~1 only because both were cut out: raw and cut-out differ.
    assert float(raw[0] @ cut[0]) < 0.999
    assert index.search_vectors(raw, k=1)[0][0]["score"] < answer.results[0]["score"]

    # The bundled mask model drives the query's segmentation.
    clutter, _truth = red_on_clutter()
    with_model = segment_and_crop(clutter, params=PARAMS, mask_model=load_mask_model(workspace["mask"]))
    without_model = segment_and_crop(clutter, params=PARAMS)
    assert with_model.shape != without_model.shape
    np.testing.assert_array_equal(step(clutter), with_model)

    # The command line searches the same way.
    done = street2shop("search", "--index", segmented_index, "--image", workspace["images"] / catalog.iloc[2]["image"], "-k", "2")
    printed = json.loads(done.stdout)
    assert printed["query"]["segmented"] is True and printed["results"][0]["product_id"] == catalog.iloc[2]["product_id"]


def test_an_index_built_without_it_is_unchanged_and_a_changed_mask_model_is_refused(workspace, segmented_index, tmp_path):
    plain = tmp_path / "plain"
    embed_catalogue(manifest=workspace["catalog"], images=workspace["images"], output=LocalOutputDir(plain), models=[workspace["encoder"]], batch_size=4)
    settings = json.loads((plain / "index.json").read_text())["settings"]
    assert settings["segment"] is None and settings["segment_mask_model"] is None
    assert not (plain / MASK_MODEL_DIR).exists()
    index = SearchIndex.load(plain)
    assert index.embedder.transform is None
    catalog = pd.read_csv(workspace["catalog"], dtype=str)
    assert index.answer((workspace["images"] / catalog.iloc[1]["image"]).read_bytes(), k=1).segmented is False

    # An index recording another mask model than the one it holds is refused.
    import shutil

    tampered = tmp_path / "tampered"
    shutil.copytree(segmented_index, tampered)
    info = json.loads((tampered / "index.json").read_text())
    info["settings"]["segment_mask_model"]["fingerprint"] = "0" * 64
    (tampered / "index.json").write_text(json.dumps(info))
    with pytest.raises(FingerprintMismatch, match="mask model"):
        SearchIndex.load(tampered)


def test_a_mask_model_needs_the_segment_option(workspace):
    with pytest.raises(InvalidParameter, match="segmentation is off"):
        segment_step(None, workspace["mask"])
    done = street2shop(
        "embed", "--images", workspace["images"], "--manifest", workspace["catalog"], "--out", workspace["root"] / "never",
        "--models", workspace["encoder"], "--mask-model", workspace["mask"], check=False,
    )
    assert done.returncode == 2 and "--mask-model is used only with --segment" in done.stderr
    assert not (workspace["root"] / "never").exists()


def test_the_endpoint_and_the_local_server_segment_queries(workspace, segmented_index):
    from street2shop.serving.endpoint import load_endpoint
    from street2shop.serving.server import api_path, build_app

    catalog = pd.read_csv(workspace["catalog"], dtype=str)
    body = {"image": b64((workspace["images"] / catalog.iloc[4]["image"]).read_bytes()), "k": 2}
    handle = load_endpoint([str(segmented_index)])
    answer = handle(body)
    assert answer["query"]["segmented"] is True and answer["results"][0]["product_id"] == catalog.iloc[4]["product_id"]

    client = build_app(segmented_index).test_client()
    response = client.post(api_path(), json=body)
    assert response.status_code == 200, response.get_data(as_text=True)
    served = response.get_json()["response"]
    assert served["query"]["segmented"] is True and served["results"][0]["product_id"] == catalog.iloc[4]["product_id"]


def test_embed_recipe_with_segment_on_bundles_the_connected_mask_model(workspace, tmp_path):
    images = workspace["images"]
    project = DSSProject(tmp_path / "project")
    project.add_folder("pictures", name="pictures", files={str(p.relative_to(images)): p.read_bytes() for p in images.rglob("*") if p.is_file()})
    project.add_folder("models", name="models", files={p.name: p.read_bytes() for p in workspace["encoder"].iterdir()})
    project.add_folder("mask", name="mask", files={p.name: p.read_bytes() for p in workspace["mask"].iterdir()})
    project.add_folder("index", name="index")
    project.add_dataset("manifest", pd.read_csv(workspace["catalog"], dtype=str))
    project.run_recipe(
        "street2shop-embed",
        inputs={"manifest": ["manifest"], "images": ["pictures"], "models": ["models"], "mask_model": ["mask"]},
        outputs={"index": ["index"]},
        config={"batch_size": 4, "segment": True, "segment_margin": 0.25},
    )
    index = SearchIndex.load(storage.folder_files_dir(project.root, project.project_key, "index"))
    assert len(index) == 6
    assert index.info["settings"]["segment"]["margin"] == 0.25
    assert index.embedder.transform.mask_model is not None and index.embedder.transform.params.margin == 0.25


def test_train_records_segment_and_embed_warns_on_a_mismatch(workspace, tmp_path, caplog):
    model_dir = tmp_path / "type-model"
    street2shop(
        "train", "--images", workspace["images"], "--manifest", workspace["catalog"], "--label", "type", "--out", model_dir,
        "--backbone", "small-cnn", "--image-size", "32", "--width", "4", "--encoding-units", "8", "--epochs", "1",
        "--batch-size", "4", "--min-count", "1", "--no-augment", "--segment", "--segment-margin", "0.2",
    )  # a non-zero status fails here, with the command's stderr
    info = json.loads((model_dir / "model.json").read_text())
    assert info["segment"] == PARAMS.as_dict() and info["segment_mask_model"] is None

    embedder = make_embedder(models=[model_dir])
    assert warn_segment_mismatch(embedder, SegmentStep(PARAMS)) == []
    assert "margin" in warn_segment_mismatch(embedder, SegmentStep(SegmentParams(margin=0.3)))[0]
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="street2shop.index.build"):
        embed_catalogue(manifest=workspace["catalog"], images=workspace["images"], output=LocalOutputDir(tmp_path / "index"), models=[model_dir], batch_size=4)
    warned = [r.getMessage() for r in caplog.records if "segment settings" in r.getMessage()]
    assert len(warned) == 1 and "'type'" in warned[0] and "on vs off" in warned[0]
    # The index records what it did (segmentation off), not the model's setting.
    assert json.loads((tmp_path / "index" / "index.json").read_text())["settings"]["segment"] is None
