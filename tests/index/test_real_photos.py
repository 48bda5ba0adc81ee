"""The embedded default on real photographs: `embed` without backbone flags uses ImageNet features, and
street-like variants of real photos find their original first (bench/real_photos.py at full size)."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from cli_runner import street2shop
from street2shop.index.search import SearchIndex

REPO = Path(__file__).resolve().parents[2]
#: A small set: objects, a footballer, scenes, a painting, a render, grey pictures.
PHOTOS = (
    "apple.jpg", "orange.jpg", "butterfly.jpg", "baboon.jpg", "fruits.jpg", "messi5.jpg", "starry_night.jpg",
    "building.jpg", "basketball1.png", "Blender_Suzanne1.jpg", "sudoku.png", "left01.jpg",
)


def _bench():
    spec = importlib.util.spec_from_file_location("real_photos_bench", REPO / "bench" / "real_photos.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def catalogue(tmp_path_factory):
    bench = _bench()
    root = tmp_path_factory.mktemp("real")
    images = root / "images"
    images.mkdir()
    photos = bench.photo_bytes(PHOTOS)
    for name, data in photos.items():
        (images / name).write_bytes(data)
    pd.DataFrame({"image": list(photos), "product_id": [Path(n).stem for n in photos]}).to_csv(root / "catalog.csv", index=False)
    done = street2shop("embed", "--images", images, "--manifest", root / "catalog.csv", "--out", root / "index")
    assert json.loads(done.stdout)["indexed"] == len(PHOTOS)
    return root, bench.make_queries(photos, variants=2, seed=7)


def test_embed_without_backbone_flags_uses_the_packaged_imagenet_features(catalogue):
    root, _ = catalogue
    info = json.loads((root / "index" / "index.json").read_text())
    assert info["settings"]["backbone"] == "efficientnet-lite0" and info["settings"]["weights"] == "imagenet"
    assert [(part["name"], part["dim"]) for part in info["layout"]] == [("efficientnet-lite0", 1280)]


def test_street_like_variants_of_real_photos_find_their_original_first(catalogue, tmp_path):
    root, queries = catalogue
    index = SearchIndex.load(root / "index")
    firsts = [index.answer(data, k=3).results[0]["product_id"] for _, data in queries]
    truths = [Path(name).stem for name, _ in queries]
    top1 = float(np.mean([first == truth for first, truth in zip(firsts, truths)]))
    assert top1 >= 0.9, list(zip(truths, firsts))
    # The command line answers the same for one of them.
    (tmp_path / "query.jpg").write_bytes(queries[0][1])
    done = street2shop("search", "--index", root / "index", "--image", tmp_path / "query.jpg", "-k", "1")
    assert json.loads(done.stdout)["results"][0]["product_id"] == truths[0]


def test_variants_are_street_like_not_copies(catalogue):
    from street2shop.images.decode import decode_image

    _, queries = catalogue
    bench = _bench()
    original = decode_image(bench.photo_bytes(("apple.jpg",))["apple.jpg"])
    variants = [decode_image(data) for name, data in queries if name == "apple.jpg"]
    assert len(variants) == 2 and variants[0].shape != variants[1].shape  # different crops
    assert all(v.shape[0] < original.shape[0] and v.shape[1] < original.shape[1] for v in variants)
