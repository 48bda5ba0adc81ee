"""Garment cut-outs, backdrops and street-view synthesis in tf.data (training/synthesis.py)."""

from __future__ import annotations

import numpy as np
import pytest

from street2shop.errors import InvalidParameter
from street2shop.images.decode import encode_jpeg
from street2shop.storage.local import LocalImageStore
from street2shop.synthesis.views import (
    SynthesisParams,
    ViewSource,
    background_bank,
    cut_out_garments,
    sample_views,
    synthesis_png,
    synthesise_view,
    view_dataset,
)
from tiny_models import coloured_picture

RED = (200, 30, 30)
COLOURS = [RED, (30, 60, 200), (240, 200, 40), (40, 160, 60)]


@pytest.fixture(scope="module")
def shop(tmp_path_factory):
    root = tmp_path_factory.mktemp("shop")
    names = []
    for k, colour in enumerate(COLOURS):
        (root / f"p{k}.jpg").write_bytes(encode_jpeg(coloured_picture(colour, size=(80, 64)), 95))
        names.append(f"p{k}.jpg")
    (root / "broken.jpg").write_bytes(b"\xff\xd8 not a jpeg")
    cache = root / "masks"
    store = LocalImageStore(root)
    cutouts, ok = cut_out_garments(store, names + ["broken.jpg"], list(range(5)), size=32, cache_dir=cache)
    again, _ = cut_out_garments(store, names, list(range(4)), size=32, cache_dir=cache)
    return cutouts, ok, again


def test_garments_are_cut_out_once_and_bad_pictures_reported(shop):
    cutouts, ok, again = shop
    assert ok.tolist() == [True, True, True, True, False]
    assert list(cutouts.errors["row"]) == [4] and "broken.jpg" in list(cutouts.errors["image"])
    assert cutouts.shop.shape == cutouts.garment.shape == (4, 32, 32, 3) and cutouts.alpha.shape == (4, 32, 32)
    assert cutouts.shop.dtype == cutouts.alpha.dtype == np.uint8
    alpha = cutouts.alpha[0]
    assert alpha[16, 16] == 255 and alpha[0, 0] == 0  # garment kept, padding is background
    assert np.abs(cutouts.garment[0][alpha > 0].astype(int).mean(axis=0) - RED).max() < 40
    assert cutouts.cache_hits == 0 and again.cache_hits == 4
    np.testing.assert_array_equal(again.alpha, cutouts.alpha)


def test_background_bank_mixes_the_kinds_it_is_given():
    rng = np.random.default_rng(0)
    pictures = rng.integers(0, 255, (3, 48, 48, 3), dtype=np.uint8)
    bank, kinds = background_bank(32, count=40, pictures=pictures, consumer=pictures, seed=1)
    assert bank.shape == (40, 32, 32, 3) and bank.dtype == np.uint8
    assert set(kinds) == {"texture", "picture", "consumer"}
    assert bank.std() > 10  # not flat backdrops
    only, kinds_only = background_bank(32, count=5)
    assert set(kinds_only) == {"texture"} and only.shape[0] == 5


def _red_share(view: np.ndarray) -> float:
    v = view.astype(int)
    return float(np.mean((v[..., 0] > 120) & (v[..., 1] < 90) & (v[..., 2] < 90)))


def test_two_views_of_a_product_differ_but_keep_the_garment(shop):
    import tensorflow as tf

    cutouts = shop[0]
    green = tf.constant(np.full((32, 32, 3), (40, 170, 60), np.uint8))
    params = SynthesisParams(occlusion_p=0.0)
    views = [synthesise_view(tf.constant(cutouts.garment[0]), tf.constant(cutouts.alpha[0]), green, green, tf.constant([s, 1], tf.int64), params).numpy() for s in range(6)]
    for view in views:
        assert view.shape == (32, 32, 3) and view.dtype == np.uint8
        assert 0.08 < _red_share(view) < 0.98  # the red garment is there, on the backdrop
    assert np.mean([np.abs(a.astype(int) - b.astype(int)).mean() for a, b in zip(views, views[1:])]) > 8
    same = synthesise_view(tf.constant(cutouts.garment[0]), tf.constant(cutouts.alpha[0]), green, green, tf.constant([0, 1], tf.int64), params)
    np.testing.assert_array_equal(same.numpy(), views[0])


def test_view_dataset_batches_products_with_positives(shop, tmp_path):
    cutouts = shop[0]
    bank, _ = background_bank(32, count=8, seed=0)
    owners = np.array([0, 1, 2, 2])  # product 2 has two shop pictures
    real = np.full((1, 32, 32, 3), 9, np.uint8)
    views = ViewSource(cutouts, owners, 3, bank, real=real, real_owners=np.array([1]))
    images, labels = next(iter(view_dataset(views, products_per_batch=3, views_per_product=2, seed=3)))
    assert images.shape == (6, 32, 32, 3) and images.dtype.name == "uint8"
    labels = labels.numpy()
    assert sorted(labels.tolist()) == [0, 0, 1, 1, 2, 2] and (labels[::2] == labels[1::2]).all()
    assert sample_views(views, 0, 3).shape == (3, 32, 32, 3)
    synthesis_png(views, tmp_path / "pairs.png", products=2, per_product=3)
    assert (tmp_path / "pairs.png").read_bytes()[:4] == b"\x89PNG"


def test_bad_settings_are_refused(shop):
    with pytest.raises(InvalidParameter):
        SynthesisParams(jpeg_p=1.5)
    with pytest.raises(InvalidParameter):
        SynthesisParams(scale_min=0.9, scale_max=0.5)
    bank, _ = background_bank(32, count=2)
    with pytest.raises(InvalidParameter):
        ViewSource(shop[0], np.array([0, 0, 0, 0]), 1, bank)
