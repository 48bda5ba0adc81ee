"""Tests for street2shop.dedup.verify: crops pass, look-alikes and recolours fail, bad pictures are reported."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from street2shop.dedup.params import DedupParams
from street2shop.dedup.vector_pairs import vector_neighbours
from street2shop.dedup.verify import DIRECT, EITHER, MIRRORED, VerifyParams, picture_features, verify_pair, verify_pairs
from street2shop.demo.catalogue import _sample_spec
from street2shop.demo.garments import render_garment
from street2shop.errors import InvalidParameter
from street2shop.images.decode import decode_image, encode_jpeg
from street2shop.storage.local import LocalImageStore
from street2shop.storage.stores import ImageSource


def garment(seed: int, grain: int, garment_type: str = "jeans", colours_of: int | None = None) -> np.ndarray:
    spec = _sample_spec(garment_type, np.random.default_rng(seed))
    if colours_of is not None:
        model = _sample_spec(garment_type, np.random.default_rng(colours_of))
        spec = dataclasses.replace(spec, colours=model.colours, rgb=model.rgb)
    return render_garment(spec, 256, grain)[0]


def crop(image: np.ndarray, top: int = 20, bottom: int = 12, left: int = 9, right: int = 24) -> np.ndarray:
    h, w = image.shape[:2]
    return decode_image(encode_jpeg(np.ascontiguousarray(image[top : h - bottom, left : w - right]), 85))


@pytest.fixture(scope="module")
def pictures():
    original = garment(1, grain=1)
    return {
        "original": original,
        "crop": crop(original),
        "mirrored_crop": np.ascontiguousarray(crop(original)[:, ::-1]),
        # Another jeans of the same colours: a distinct product that looks alike.
        "look_alike": garment(8, grain=2, colours_of=1),
        "recoloured": np.ascontiguousarray(original[:, :, [2, 0, 1]]),
    }


def test_a_crop_passes_and_a_look_alike_with_the_same_colours_does_not(pictures):
    params = VerifyParams()
    original = picture_features(pictures["original"], params)
    verdict = verify_pair(original, picture_features(pictures["crop"], params), params)
    assert verdict is not None
    score, inliers, mirrored = verdict
    assert score >= params.min_detail_correlation and inliers >= params.min_inliers and not mirrored
    assert verify_pair(original, picture_features(pictures["look_alike"], params), params) is None
    # Same print and grain in other colours: the chroma check refuses it.
    assert verify_pair(original, picture_features(pictures["recoloured"], params), params) is None


def test_a_mirrored_crop_passes_only_when_mirror_images_are_tried(pictures):
    params = VerifyParams()
    original = picture_features(pictures["original"], params)
    flipped = picture_features(pictures["mirrored_crop"], params)
    assert verify_pair(original, flipped, params, orientation=DIRECT) is None
    for orientation in (MIRRORED, EITHER):
        verdict = verify_pair(original, flipped, params, orientation=orientation)
        assert verdict is not None and verdict[2], orientation


def test_verify_pairs_reports_unreadable_pictures_and_verifies_the_rest(pictures, tmp_path):
    for name in ("original", "crop", "look_alike"):
        (tmp_path / f"{name}.jpg").write_bytes(encode_jpeg(pictures[name], 92))
    (tmp_path / "broken.jpg").write_bytes(encode_jpeg(pictures["original"], 92)[:200])
    images = ["original.jpg", "crop.jpg", "look_alike.jpg", "broken.jpg", "nowhere.jpg"]
    source = ImageSource(LocalImageStore(tmp_path))
    verified, errors = verify_pairs(source, images, np.array([0, 0, 0, 1]), np.array([1, 2, 3, 4]), max_workers=2)
    assert list(zip(verified.a, verified.b)) == [(0, 1)] and verified.score[0] >= 0.9
    assert sorted(errors["image"]) == ["broken.jpg", "nowhere.jpg"] and errors["reason"].str.len().min() > 0
    empty, no_errors = verify_pairs(source, images, np.zeros(0, np.int64), np.zeros(0, np.int64))
    assert len(empty) == 0 and no_errors.empty


def test_nearest_neighbours_and_parameter_checks():
    vectors = np.array([[1, 0, 0], [0.9, 0.1, 0], [0, 1, 0], [0, 0.95, 0.05], [0, 0, 1]], np.float32)
    rows = np.arange(5)
    found = vector_neighbours(vectors, vectors, 1, 0.5, query_rows=rows, base_rows=rows, self_join=True)
    assert sorted(zip(found.a.tolist(), found.b.tolist())) == [(0, 1), (1, 0), (2, 3), (3, 2)]  # row 4: none above 0.5
    for bad in (VerifyParams(neighbours=0), VerifyParams(min_detail_correlation=2.0), VerifyParams(ratio=0)):
        with pytest.raises(InvalidParameter):
            bad.check()
    with pytest.raises(InvalidParameter, match="verify"):
        DedupParams(verify="sift").check()
