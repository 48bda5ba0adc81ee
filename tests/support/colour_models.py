"""Model folders (``street2shop train``'s format) whose predictions are known in advance: they read a picture's mean colour.

A single-label model is a nearest-colour classifier (softmax over ``-k * |mean - colour|^2``, written
as one Dense layer); a multi-label one keeps each RGB channel whose mean is above one half
(sigmoid). Tests of what consumes trained models (predict, the recipes) then assert exact labels.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

SHARPNESS = 40.0


def colour_model_folder(
    directory: Path,
    *,
    label: str,
    classes: dict[str, tuple[int, int, int]] | None = None,
    multilabel: bool = False,
    size: int = 16,
    segment: dict[str, Any] | None = None,
) -> Path:
    """Write a model folder predicting ``label`` from the mean colour.

    Args:
        classes: single-label: class name -> RGB it stands for. Multi-label: ignored, the classes
            are ``red``, ``green`` and ``blue`` (a channel's mean above 0.5).
        segment: the segment record to write in ``model.json`` (a model "trained on cut-out garments").
    """
    import keras

    from street2shop.models import model_folder as mf
    from street2shop.models.encoder import model_fingerprint
    from street2shop.models.layers import ENCODING_LAYER, OUTPUT_LAYER

    inputs = keras.Input((size, size, 3), dtype="uint8")
    x = keras.layers.Rescaling(1 / 255.0)(keras.ops.cast(inputs, "float32"))
    mean = keras.layers.GlobalAveragePooling2D()(x)
    encoding = keras.layers.Dense(4, name=ENCODING_LAYER)(mean)
    if multilabel:
        names = ["red", "green", "blue"]
        kernel, bias = np.eye(3) * SHARPNESS, np.full(3, -0.5 * SHARPNESS)
    else:
        names = list(classes or {})
        centres = np.array([classes[name] for name in names], dtype=np.float64) / 255.0
        kernel = 2 * SHARPNESS * centres.T  # -k|x-c|^2 = k(2x.c - |c|^2) - k|x|^2; the last term is the same for every class
        bias = -SHARPNESS * (centres**2).sum(axis=1)
    head = keras.layers.Dense(len(names))
    logits = head(mean)
    probabilities = keras.layers.Activation("sigmoid" if multilabel else "softmax", name=OUTPUT_LAYER)(logits)
    model = keras.Model(inputs, [encoding, probabilities])
    head.set_weights([kernel.astype(np.float32), bias.astype(np.float32)])
    info = {
        "format": mf.FORMAT_NAME,
        "format_version": mf.FORMAT_VERSION,
        "name": label,
        "label_column": label,
        "multilabel": multilabel,
        "family": "attribute",
        "classes": names,
        "image_size": size,
        "encoding_layer": ENCODING_LAYER,
        "fingerprint": model_fingerprint(model),
        "segment": segment,
        "segment_pad": 0.05 if segment else None,
        "segment_mask_model": None,
    }
    mf.save_model_files(Path(directory), model, info)
    return Path(directory)


def solid(rgb: tuple[int, int, int], size: int = 24) -> np.ndarray:
    """A picture of one colour."""
    return np.full((size, size, 3), rgb, np.uint8)


def describe(directory: Path) -> dict[str, Any]:
    """The folder's ``model.json``."""
    return json.loads((Path(directory) / "model.json").read_text())
