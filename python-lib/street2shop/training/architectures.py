"""Attribute classifiers: a backbone (or a small CNN, or BDN-style pathways) and the report's head."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from street2shop.errors import InvalidParameter
from street2shop.models.backbones import build_application, backbone_spec, resolve_weights
from street2shop.models.layers import BACKBONE_LAYER, ENCODING_LAYER, OUTPUT_LAYER, POOLED_LAYER, PREPROCESS_LAYER, register_layers

logger = logging.getLogger(__name__)

SMALL_CNN = "small-cnn"
BDN = "bdn"
ARCHITECTURES = (SMALL_CNN, "mobilenetv3small", "efficientnetb0", "efficientnet-lite0", "resnet50", BDN)
_DEFAULT_SIZES = {SMALL_CNN: 96, BDN: 96}


@dataclass(frozen=True)
class Architecture:
    """What to build: the backbone and the head's sizes."""

    name: str = "resnet50"
    image_size: int | None = None  # default: the architecture's
    encoding_units: int = 1000
    dropout: float = 0.2
    width: int = 32  # small CNN: filters of the first block; BDN: filters per pathway

    def describe(self) -> dict[str, Any]:
        return {
            "backbone": self.name,
            "image_size": self.image_size,
            "encoding_units": self.encoding_units,
            "dropout": self.dropout,
            "width": self.width,
        }


def architecture_name(name: str) -> str:
    """The canonical name of an architecture (case, '-' and '_' ignored)."""
    key = str(name).lower().replace("_", "").replace("-", "")
    for candidate in ARCHITECTURES:
        if candidate.replace("-", "") == key:
            return candidate
    raise InvalidParameter(f"unknown backbone {name!r}; choose one of {', '.join(ARCHITECTURES)}")


def default_image_size(name: str) -> int:
    """The input size an architecture is used at unless told otherwise."""
    name = architecture_name(name)
    return _DEFAULT_SIZES.get(name) or backbone_spec(name).default_size


def build_classifier(
    architecture: Architecture,
    n_classes: int,
    *,
    multilabel: bool,
    weights: str | Path | None = "none",
):
    """The classifier: uint8 RGB ``(S, S, 3)`` -> class probabilities, preprocessing inside.

    Head (the report's): global average pooling (layer ``pooled``) -> Dense 1000 relu (layer
    ``encoding``, whose output is the search encoding) -> Dropout 0.2 -> Dense n, softmax or
    sigmoid (layer ``probabilities``, kept in float32 under mixed precision). A Keras
    application sits in a nested model named ``backbone``, so it can be frozen for a warm-up.

    Raises:
        InvalidParameter: unknown architecture, bad sizes, or weights it cannot take.
    """
    import keras

    name = architecture_name(architecture.name)
    size = int(architecture.image_size or default_image_size(name))
    if size < 32:
        raise InvalidParameter(f"image size must be at least 32 pixels, got {size}")
    if n_classes < 2:
        raise InvalidParameter(f"a classifier needs at least two classes, got {n_classes}")
    if architecture.encoding_units < 1 or not 0.0 <= architecture.dropout < 1.0 or architecture.width < 1:
        raise InvalidParameter(f"bad head settings: {architecture.describe()}")
    layers = register_layers()
    inputs = keras.Input(shape=(size, size, 3), dtype="uint8", name="image")
    x = keras.ops.cast(inputs, "float32")
    if name == BDN:
        return _build_bdn(inputs, x, architecture, n_classes, multilabel, weights, layers)
    if name == SMALL_CNN:
        backbone = _small_cnn(size, architecture.width)
        _load_own_weights(backbone, weights, name)
    else:
        spec = backbone_spec(name)
        if spec.preprocessing == "caffe":
            x = layers["CaffePreprocess"](name=PREPROCESS_LAYER)(x)
        base = build_application(spec, resolve_weights(weights, spec), size)
        backbone = keras.Model(base.input, base.output, name=BACKBONE_LAYER)
    features = backbone(x)
    pooled = keras.layers.GlobalAveragePooling2D(name=POOLED_LAYER)(features)
    outputs = _head(pooled, architecture, n_classes, multilabel)
    return keras.Model(inputs, outputs, name=f"{name.replace('-', '_')}_classifier")


def _head(pooled, architecture: Architecture, n_classes: int, multilabel: bool, extra_logits=None):
    import keras

    encoding = keras.layers.Dense(architecture.encoding_units, activation="relu", name=ENCODING_LAYER)(pooled)
    dropped = keras.layers.Dropout(architecture.dropout, name="dropout")(encoding)
    logits = keras.layers.Dense(n_classes, name="logits")(dropped)
    if extra_logits is not None:
        logits = keras.layers.Add(name="pathway_sum")([logits, extra_logits])
    return keras.layers.Activation("sigmoid" if multilabel else "softmax", dtype="float32", name=OUTPUT_LAYER)(logits)


def _small_cnn(size: int, width: int):
    """Four conv blocks (width, 2w, 4w, 8w filters), batch-normalised: a backbone a CPU trains quickly."""
    import keras

    inputs = keras.Input((size, size, 3), name="pixels")
    x = keras.layers.Rescaling(1.0 / 255.0)(inputs)
    for block, filters in enumerate((width, 2 * width, 4 * width, 8 * width)):
        x = keras.layers.Conv2D(filters, 3, strides=2 if block == 0 else 1, padding="same", use_bias=False)(x)
        x = keras.layers.BatchNormalization(momentum=0.9)(x)  # short trainings: moving statistics must settle fast
        x = keras.layers.ReLU()(x)
        if block in (1, 2):
            x = keras.layers.MaxPooling2D(2)(x)
    return keras.Model(inputs, x, name=BACKBONE_LAYER)


def _build_bdn(inputs, x, architecture: Architecture, n_classes: int, multilabel: bool, weights, layers):
    """Light BDN: one small pathway per class over RGB + HSV planes, a shared synthesis head on top.

    After the BDN paper the report used: each attribute has its own shallow pathway (here
    conv-pool-conv-pool-conv, ``width`` filters) whose features give that attribute's own logit;
    the pathways' features, concatenated, feed the report's head, whose logits add to them.
    """
    import keras

    if weights is not None and str(weights).lower() not in ("none", "random", ""):
        raise InvalidParameter("the bdn architecture is trained from scratch: use weights 'none'")
    scaled = keras.layers.Rescaling(1.0 / 255.0, name="scale")(x)
    hsv = layers["RGBToHSV"](name="hsv")(scaled)
    planes = keras.layers.Concatenate(name="planes")([scaled, hsv])
    planes = keras.layers.AveragePooling2D(2, name="downsample")(planes)
    features, own_logits = [], []
    w = architecture.width
    for k in range(n_classes):
        y = keras.layers.Conv2D(w, 5, strides=2, padding="same", activation="relu", name=f"pathway{k}_conv1")(planes)
        y = keras.layers.MaxPooling2D(2, name=f"pathway{k}_pool1")(y)
        y = keras.layers.Conv2D(2 * w, 3, padding="same", activation="relu", name=f"pathway{k}_conv2")(y)
        y = keras.layers.MaxPooling2D(2, name=f"pathway{k}_pool2")(y)
        y = keras.layers.Conv2D(2 * w, 3, padding="same", activation="relu", name=f"pathway{k}_conv3")(y)
        y = keras.layers.GlobalAveragePooling2D(name=f"pathway{k}_pool")(y)
        features.append(y)
        own_logits.append(keras.layers.Dense(1, name=f"pathway{k}_logit")(y))
    pooled = keras.layers.Concatenate(name=POOLED_LAYER)(features)
    extra = keras.layers.Concatenate(name="pathway_logits")(own_logits)
    outputs = _head(pooled, architecture, n_classes, multilabel, extra_logits=extra)
    return keras.Model(inputs, outputs, name="bdn_classifier")


def _load_own_weights(backbone, weights: str | Path | None, name: str) -> None:
    if weights is None or str(weights).lower() in ("none", "random", ""):
        return
    if str(weights).lower() == "imagenet":
        raise InvalidParameter(f"there are no ImageNet weights for {name}: use weights 'none' or a weights file")
    path = Path(weights)
    if path.is_dir():
        found = sorted(p for p in path.rglob("*.weights.h5"))
        if len(found) != 1:
            raise InvalidParameter(f"expected one *.weights.h5 file for {name} in {path}, found {len(found)}")
        path = found[0]
    if not path.is_file():
        raise InvalidParameter(f"weights file not found: {path}")
    try:
        backbone.load_weights(path)
    except (ValueError, OSError) as err:
        raise InvalidParameter(f"cannot load {path} into the {name} backbone: {err}") from err


def encoder_model(classifier, layer: str = ENCODING_LAYER):
    """The two-output model saved in a model folder: ``[encoding, probabilities]`` from one forward pass."""
    import keras

    try:
        encoding = classifier.get_layer(layer).output
    except ValueError as err:
        names = ", ".join(l.name for l in classifier.layers)
        raise InvalidParameter(f"the model has no layer {layer!r}; its layers: {names}") from err
    return keras.Model(classifier.inputs, [encoding, classifier.get_layer(OUTPUT_LAYER).output], name=classifier.name)
