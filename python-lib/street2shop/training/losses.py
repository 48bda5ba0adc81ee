"""The report's weighted binary cross-entropy for multi-label models, as a serialisable Keras loss."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from street2shop.errors import InvalidParameter

EPSILON = 1e-7


def class_weights(targets: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per-class weights ``w_pos = n / (2 n_i)`` and ``w_neg = n / (2 (n - n_i))``.

    With these, a class's positives and negatives weigh the same in total (n/2 each). A class
    with no positive (or no negative) picture gets the count 1 instead of 0.
    """
    targets = np.asarray(targets, dtype=np.float64)
    if targets.ndim != 2 or len(targets) == 0:
        raise InvalidParameter(f"targets must be a non-empty (rows, classes) array, got shape {targets.shape}")
    n = float(len(targets))
    positives = np.clip(targets.sum(axis=0), 1.0, max(n - 1.0, 1.0))
    return (n / (2.0 * positives)).astype(np.float32), (n / (2.0 * (n - positives))).astype(np.float32)


def weighted_bce_numpy(y_true: np.ndarray, y_prob: np.ndarray, pos_weight: Sequence[float], neg_weight: Sequence[float]) -> float:
    """The same loss in NumPy (the mean over rows and classes), for checks and reports."""
    p = np.clip(np.asarray(y_prob, np.float64), EPSILON, 1.0 - EPSILON)
    y = np.asarray(y_true, np.float64)
    terms = -(np.asarray(pos_weight) * y * np.log(p) + np.asarray(neg_weight) * (1.0 - y) * np.log(1.0 - p))
    return float(terms.mean())


def register_losses() -> dict[str, Any]:
    """Define (once) and return street2shop's serialisable Keras losses."""
    if _LOSSES:
        return _LOSSES
    import keras

    @keras.saving.register_keras_serializable(package="street2shop")
    class WeightedBinaryCrossentropy(keras.losses.Loss):
        """Binary cross-entropy on probabilities with per-class weights for positives and negatives.

        ``loss = mean over classes of -(w_pos * y * log p + w_neg * (1 - y) * log(1 - p))``.
        """

        def __init__(self, pos_weight: Sequence[float], neg_weight: Sequence[float], name: str = "weighted_bce", **kwargs: Any):
            super().__init__(name=name, **kwargs)
            self.pos_weight = [float(w) for w in pos_weight]
            self.neg_weight = [float(w) for w in neg_weight]
            if len(self.pos_weight) != len(self.neg_weight):
                raise InvalidParameter("positive and negative weights must have one value per class each")

        def call(self, y_true, y_pred):
            ops = keras.ops
            p = ops.clip(ops.cast(y_pred, "float32"), EPSILON, 1.0 - EPSILON)
            y = ops.cast(y_true, "float32")
            pos = ops.convert_to_tensor(self.pos_weight, dtype="float32")
            neg = ops.convert_to_tensor(self.neg_weight, dtype="float32")
            terms = -(pos * y * ops.log(p) + neg * (1.0 - y) * ops.log(1.0 - p))
            return ops.mean(terms, axis=-1)

        def get_config(self) -> dict[str, Any]:
            return {**super().get_config(), "pos_weight": self.pos_weight, "neg_weight": self.neg_weight}

    _LOSSES["WeightedBinaryCrossentropy"] = WeightedBinaryCrossentropy
    return _LOSSES


_LOSSES: dict[str, Any] = {}


def weighted_bce(targets: np.ndarray) -> Any:
    """The weighted loss for these training targets."""
    pos, neg = class_weights(targets)
    return register_losses()["WeightedBinaryCrossentropy"](pos.tolist(), neg.tolist())
