"""What an attribute model's probabilities predict: the classes present, a picture's best classes."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

#: A multi-label class is predicted present when its probability reaches this.
THRESHOLD = 0.5


def predicted_labels(probabilities: np.ndarray, multilabel: bool, threshold: float = THRESHOLD) -> np.ndarray:
    """One-hot (argmax) or multi-hot (probability >= threshold) predictions."""
    probabilities = np.asarray(probabilities, dtype=np.float32)
    if multilabel:
        return (probabilities >= threshold).astype(np.int64)
    hot = np.zeros_like(probabilities, dtype=np.int64)
    if len(probabilities):
        hot[np.arange(len(probabilities)), probabilities.argmax(axis=1)] = 1
    return hot


def top_classes(probabilities: np.ndarray, classes: Sequence[str], *, multilabel: bool, k: int = 3) -> list[dict[str, Any]]:
    """One picture's best classes with their probabilities (multi-label: also every class above the threshold)."""
    probabilities = np.asarray(probabilities, dtype=np.float64)
    order = np.argsort(-probabilities, kind="stable")
    chosen = list(order[:k])
    if multilabel:
        chosen += [int(i) for i in order[k:] if probabilities[i] >= THRESHOLD]
    return [
        {
            "class": str(classes[i]),
            "probability": round(float(probabilities[i]), 4),
            **({"present": bool(probabilities[i] >= THRESHOLD)} if multilabel else {}),
        }
        for i in chosen
    ]
