"""Tests for street2shop.segmentation.mask_model: a user's Keras mask model, saved, loaded with safe_mode and used."""

from __future__ import annotations

import hashlib
import json

import keras
import numpy as np
import pytest

from street2shop.errors import IndexFormatError
from street2shop.segmentation.mask_model import CONFIG_FILE, MODEL_FILE, MaskModel, load_mask_model, save_mask_model
from street2shop.segmentation.garment import segment_garment
from garment_pictures import build_red_model, garment_mask, iou, paint, red_on_clutter, white


@pytest.fixture(scope="module")
def red_model_folder(tmp_path_factory):
    return save_mask_model(build_red_model(), tmp_path_factory.mktemp("mask-model"), threshold=0.5)


def test_saved_model_is_loaded_and_drives_the_segmentation(red_model_folder):
    assert (red_model_folder / MODEL_FILE).is_file()
    assert json.loads((red_model_folder / CONFIG_FILE).read_text())["format"] == "street2shop-mask-model"
    model = load_mask_model(red_model_folder)
    assert isinstance(model, MaskModel)
    assert model.input_size == 64 and model.threshold == 0.5
    assert model.fingerprint == hashlib.sha256((red_model_folder / MODEL_FILE).read_bytes()).hexdigest()

    picture, truth = red_on_clutter()
    probability = model.predict(picture)
    assert probability.shape == truth.shape and probability.dtype == np.float32
    assert probability[truth > 0].mean() > 0.8 and probability[truth == 0].mean() < 0.2

    seg = segment_garment(picture, mask_model=model)
    assert seg.method == "model"
    assert iou(seg.mask, truth) >= 0.9
    ys, xs = np.nonzero(truth)
    assert np.allclose(seg.box, (xs.min(), ys.min(), xs.max() + 1, ys.max() + 1), atol=6)
    # Without the model the centre prior is all there is, and it is worse on this off-centre garment.
    assert segment_garment(picture).method == "centre"


def test_model_that_finds_no_garment_falls_back(red_model_folder):
    model = load_mask_model(red_model_folder)
    truth = garment_mask(150, 150)
    picture = paint(white(150, 150), truth, (20, 20, 200))  # blue: the red model sees nothing
    seg = segment_garment(picture, mask_model=model)
    assert seg.method == "border" and "model_empty" in seg.flags
    assert iou(seg.mask, truth) >= 0.95


def test_any_size_model_with_lower_resolution_output(tmp_path):
    folder = save_mask_model(build_red_model(None, pool=True), tmp_path / "fcn", input_size=96, threshold=0.4)
    model = load_mask_model(folder)
    assert model.input_size == 96 and model.threshold == pytest.approx(0.4)
    picture, truth = red_on_clutter(180, 120)
    probabilities = model.predict_batch([picture, picture[:, :60]])
    assert probabilities[0].shape == (180, 120) and probabilities[1].shape == (180, 60)
    assert iou(probabilities[0] > 0.5, truth) >= 0.85


def test_model_with_python_code_is_refused_by_safe_mode(tmp_path):
    inputs = keras.Input(shape=(32, 32, 3))
    outputs = keras.layers.Lambda(lambda x: x[..., :1] / 255.0)(inputs)
    folder = save_mask_model(keras.Model(inputs, outputs), tmp_path / "lambda")
    with pytest.raises(IndexFormatError, match="safely"):
        load_mask_model(folder)


def test_bad_folders_are_reported(tmp_path, red_model_folder):
    with pytest.raises(IndexFormatError, match="mask_model.keras not found"):
        load_mask_model(tmp_path)
    (tmp_path / MODEL_FILE).write_bytes(b"not a keras file")
    with pytest.raises(IndexFormatError):
        load_mask_model(tmp_path)
    broken = tmp_path / "broken-config"
    broken.mkdir()
    (broken / MODEL_FILE).write_bytes((red_model_folder / MODEL_FILE).read_bytes())
    (broken / CONFIG_FILE).write_text('{"format": "something-else"}')
    with pytest.raises(IndexFormatError, match="format"):
        load_mask_model(broken)
    (broken / CONFIG_FILE).write_text('{"threshold": 3}')
    with pytest.raises(IndexFormatError, match="threshold"):
        load_mask_model(broken)
