"""Validation metrics of an attribute model: accuracy, per-class precision/recall/F1, micro/macro F1, mAP."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from street2shop.models.predictions import predicted_labels


def classification_metrics(targets: np.ndarray, probabilities: np.ndarray, classes: Sequence[str], *, multilabel: bool) -> dict[str, Any]:
    """Metrics on validation pictures.

    Single-label: accuracy (top-1) and the confusion matrix. Multi-label: subset accuracy (all
    classes right), per-label accuracy, mAP (mean of per-class average precision over classes
    with a positive), and one 2x2 confusion matrix per class. Both: per-class precision, recall,
    F1 and support; micro and macro F1.
    """
    from sklearn.metrics import average_precision_score, confusion_matrix, f1_score, precision_recall_fscore_support

    y = np.asarray(targets) > 0.5
    predicted = predicted_labels(probabilities, multilabel).astype(bool)
    n_classes = len(classes)
    labels = list(range(n_classes))
    if multilabel:
        precision, recall, f1, support = precision_recall_fscore_support(y, predicted, average=None, zero_division=0)
        micro = f1_score(y, predicted, average="micro", zero_division=0)
        macro = f1_score(y, predicted, average="macro", zero_division=0)
        ap = {}
        for i, name in enumerate(classes):
            if y[:, i].any():
                ap[name] = float(average_precision_score(y[:, i], probabilities[:, i]))
        result: dict[str, Any] = {
            "accuracy": float(np.mean(np.all(y == predicted, axis=1))) if len(y) else 0.0,
            "label_accuracy": float(np.mean(y == predicted)) if len(y) else 0.0,
            "map": float(np.mean(list(ap.values()))) if ap else None,
            "average_precision": ap,
            "confusion": {
                name: confusion_matrix(y[:, i], predicted[:, i], labels=[False, True]).tolist() for i, name in enumerate(classes)
            },
        }
    else:
        truth, guess = y.argmax(axis=1), np.asarray(probabilities).argmax(axis=1)
        precision, recall, f1, support = precision_recall_fscore_support(truth, guess, labels=labels, average=None, zero_division=0)
        micro = f1_score(truth, guess, labels=labels, average="micro", zero_division=0)
        macro = f1_score(truth, guess, labels=labels, average="macro", zero_division=0)
        result = {
            "accuracy": float(np.mean(truth == guess)) if len(truth) else 0.0,
            "confusion": confusion_matrix(truth, guess, labels=labels).tolist(),
        }
    result.update(
        {
            "multilabel": multilabel,
            "validation_pictures": int(len(y)),
            "micro_f1": float(micro),
            "macro_f1": float(macro),
            "per_class": {
                name: {
                    "precision": round(float(precision[i]), 4),
                    "recall": round(float(recall[i]), 4),
                    "f1": round(float(f1[i]), 4),
                    "support": int(support[i]),
                }
                for i, name in enumerate(classes)
            },
        }
    )
    return result
