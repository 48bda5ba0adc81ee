"""Encoders and backbones: preprocessing inside, fingerprints, safe-mode round trips, weights sources."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from street2shop.models.backbones import backbone_spec, build_feature_extractor, resolve_weights
from street2shop.models.encoder import make_encoder, model_fingerprint, save_encoder
from street2shop.models.loading import load_encoder
from street2shop.errors import FingerprintMismatch, IndexFormatError, InvalidParameter
from tiny_models import tiny_encoder

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def resnet_small():
    return build_feature_extractor("resnet50", "none", 32)


def test_resnet_preprocessing_is_inside_and_output_is_unit_length(resnet_small):
    import keras

    images = np.random.default_rng(0).integers(0, 256, (3, 32, 32, 3), dtype=np.uint8)
    vectors = np.asarray(resnet_small(images, training=False))
    assert vectors.shape == (3, 2048)
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, rtol=1e-5)
    # The model's own preprocessing equals Keras's ResNet50 preprocess_input.
    layer = resnet_small.get_layer("preprocess")
    expected = keras.applications.resnet50.preprocess_input(images.astype("float32"))
    np.testing.assert_allclose(np.asarray(layer(images.astype("float32"))), expected, rtol=1e-5, atol=1e-4)


def test_fingerprint_is_stable_and_changes_with_weights():
    first, again = tiny_encoder(seed=1), tiny_encoder(seed=1)
    other = tiny_encoder(seed=2)
    assert first.fingerprint == again.fingerprint
    assert first.fingerprint != other.fingerprint
    weights = first.model.get_weights()
    weights[-1] = weights[-1] + 1.0
    first.model.set_weights(weights)
    assert model_fingerprint(first.model) != again.fingerprint


def test_encoder_round_trips_in_a_fresh_process_with_safe_mode(tmp_path, resnet_small):
    encoder = make_encoder("resnet50", resnet_small, {"kind": "backbone"})
    save_encoder(encoder, tmp_path / "enc")
    images = np.random.default_rng(3).integers(0, 256, (2, 32, 32, 3), dtype=np.uint8)
    np.save(tmp_path / "images.npy", images)
    expected = np.asarray(resnet_small(images, training=False))
    script = (
        "import json, sys, numpy as np\n"
        "from street2shop.models.loading import load_encoder\n"
        f"enc = load_encoder({str(tmp_path / 'enc')!r})\n"
        f"out = np.asarray(enc.model(np.load({str(tmp_path / 'images.npy')!r}), training=False))\n"
        "print(json.dumps({'fp': enc.fingerprint, 'v': out.tolist()}))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, env={"PYTHONPATH": str(REPO / "python-lib"), "TF_CPP_MIN_LOG_LEVEL": "3"}, timeout=300
    )
    assert done.returncode == 0, done.stderr[-2000:]
    loaded = json.loads(done.stdout.strip().splitlines()[-1])
    assert loaded["fp"] == encoder.fingerprint
    np.testing.assert_allclose(np.array(loaded["v"]), expected, rtol=1e-5, atol=1e-6)


def test_tampered_encoder_is_refused(tmp_path):
    encoder = tiny_encoder()
    save_encoder(encoder, tmp_path / "enc")
    description = json.loads((tmp_path / "enc" / "encoder.json").read_text())
    description["fingerprint"] = "0" * 64
    (tmp_path / "enc" / "encoder.json").write_text(json.dumps(description))
    with pytest.raises(FingerprintMismatch, match="fingerprint"):
        load_encoder(tmp_path / "enc")


def test_missing_encoder_files_are_named(tmp_path):
    with pytest.raises(IndexFormatError, match="model.keras"):
        load_encoder(tmp_path)


def test_weights_from_a_file_and_from_a_folder(tmp_path):
    import keras

    keras.utils.set_random_seed(7)
    reference = build_feature_extractor("mobilenetv3small", "none", 32)
    base = next(layer for layer in reference.layers if isinstance(layer, keras.Model))
    folder = tmp_path / "weights"
    folder.mkdir()
    weights_file = folder / "mobilenet_notop.weights.h5"
    base.save_weights(weights_file)
    images = np.random.default_rng(0).integers(0, 256, (2, 32, 32, 3), dtype=np.uint8)
    expected = np.asarray(reference(images, training=False))
    for source in (weights_file, folder):
        keras.utils.set_random_seed(99)  # a different random init, overwritten by the file
        loaded = build_feature_extractor("mobilenetv3small", source, 32)
        np.testing.assert_allclose(np.asarray(loaded(images, training=False)), expected, rtol=1e-5, atol=1e-6)


def test_weights_choices_are_checked(tmp_path):
    spec = backbone_spec("ResNet50")
    assert resolve_weights("imagenet", spec) == "imagenet"
    assert resolve_weights("none", spec) is None
    with pytest.raises(InvalidParameter, match="does not exist"):
        resolve_weights(tmp_path / "nope.h5", spec)
    with pytest.raises(InvalidParameter, match="no weights file"):
        resolve_weights(tmp_path, spec)
    (tmp_path / "a.h5").write_bytes(b"x")
    (tmp_path / "b.h5").write_bytes(b"x")
    with pytest.raises(InvalidParameter, match="several weights files"):
        resolve_weights(tmp_path, spec)
    with pytest.raises(InvalidParameter, match="unknown backbone"):
        backbone_spec("vgg16")


def test_encoder_is_frozen():
    import dataclasses

    encoder = tiny_encoder()
    with pytest.raises(dataclasses.FrozenInstanceError):
        encoder.name = "other"
    renamed = dataclasses.replace(encoder, name="other")
    assert renamed.name == "other" and encoder.name == "tiny" and renamed.fingerprint == encoder.fingerprint


def test_a_trained_model_folder_loads_without_the_training_package(tmp_path):
    # Saved compiled with the weighted loss, as `street2shop train` saves a multi-label model;
    # loading (uncompiled, in a fresh process) needs neither the loss nor street2shop.training.
    import keras

    from street2shop.models import model_folder
    from street2shop.training.losses import weighted_bce

    keras.utils.set_random_seed(0)
    inputs = keras.Input((32, 32, 3), dtype="uint8")
    pooled = keras.layers.GlobalAveragePooling2D()(keras.layers.Rescaling(1 / 255.0)(keras.ops.cast(inputs, "float32")))
    encoding = keras.layers.Dense(4, activation="relu", name="encoding")(pooled)
    probabilities = keras.layers.Dense(2, activation="sigmoid", name="probabilities")(encoding)
    targets = np.array([[1, 0], [0, 1]], np.float32)
    classifier = keras.Model(inputs, probabilities)
    classifier.compile(optimizer="adam", loss=weighted_bce(targets))
    classifier.fit(np.zeros((2, 32, 32, 3), np.uint8), targets, epochs=1, verbose=0)
    model = keras.Model(inputs, [encoding, probabilities])
    info = {
        "format": model_folder.FORMAT_NAME, "format_version": model_folder.FORMAT_VERSION, "name": "colours",
        "classes": ["blue", "red"], "multilabel": True, "image_size": 32, "family": "attribute",
        "encoding_layer": "encoding", "fingerprint": model_fingerprint(model),
    }
    model_folder.save_model_files(tmp_path / "colours", model, info)
    script = (
        "import sys\n"
        "from street2shop.models.loading import load_encoder\n"
        f"enc = load_encoder({str(tmp_path / 'colours')!r})\n"
        "assert not [m for m in sys.modules if m.startswith('street2shop.training')], sorted(sys.modules)\n"
        "print(enc.name, enc.classes, enc.info['kind'], enc.fingerprint)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, env={"PYTHONPATH": str(REPO / "python-lib"), "TF_CPP_MIN_LOG_LEVEL": "3"}, timeout=300
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.split()[-1] == info["fingerprint"]
    assert "colours ['blue', 'red'] attribute" in done.stdout
