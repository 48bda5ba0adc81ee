"""The pictures of a trained model: confusion matrix, learning curves, example predictions (PNG)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from street2shop.models.predictions import top_classes


def _pyplot():
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    return plt


def confusion_png(metrics: dict[str, Any], classes: Sequence[str], path: Path, title: str) -> None:
    """Single-label: the class x class matrix (rows: truth). Multi-label: one 2x2 matrix per class."""
    plt = _pyplot()
    if not metrics["multilabel"]:
        matrix = np.asarray(metrics["confusion"], dtype=float)
        side = max(4.0, 0.45 * len(classes) + 2.5)
        fig, ax = plt.subplots(figsize=(side, side))
        shown = matrix / np.maximum(matrix.sum(axis=1, keepdims=True), 1)
        ax.imshow(shown, cmap="Blues", vmin=0, vmax=1)
        for (i, j), value in np.ndenumerate(matrix):
            if value:
                ax.text(j, i, int(value), ha="center", va="center", fontsize=7, color="white" if shown[i, j] > 0.5 else "black")
        ax.set_xticks(range(len(classes)), classes, rotation=60, ha="right", fontsize=8)
        ax.set_yticks(range(len(classes)), classes, fontsize=8)
        ax.set_xlabel("predicted")
        ax.set_ylabel("true")
        ax.set_title(f"{title} (accuracy {metrics['accuracy']:.2f})")
    else:
        columns = min(4, len(classes))
        rows = math.ceil(len(classes) / columns)
        fig, axes = plt.subplots(rows, columns, figsize=(2.6 * columns, 2.6 * rows), squeeze=False)
        for ax in axes.ravel():
            ax.axis("off")
        for ax, name in zip(axes.ravel(), classes):
            matrix = np.asarray(metrics["confusion"][name], dtype=float)
            ax.axis("on")
            shown = matrix / max(matrix.sum(), 1)
            ax.imshow(shown, cmap="Blues", vmin=0, vmax=1)
            for (i, j), value in np.ndenumerate(matrix):
                ax.text(j, i, int(value), ha="center", va="center", fontsize=9, color="white" if shown[i, j] > 0.5 else "black")
            ax.set_xticks([0, 1], ["no", "yes"], fontsize=7)
            ax.set_yticks([0, 1], ["no", "yes"], fontsize=7)
            ax.set_title(f"{name} (F1 {metrics['per_class'][name]['f1']:.2f})", fontsize=9)
        fig.suptitle(f"{title}: true (rows) vs predicted (columns)")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def learning_curves_png(history: pd.DataFrame, path: Path, title: str) -> None:
    """Training and validation loss (and accuracy when recorded) per epoch."""
    plt = _pyplot()
    metric = next((c for c in ("accuracy", "categorical_accuracy", "binary_accuracy") if c in history.columns), None)
    panels = 2 if metric else 1
    fig, axes = plt.subplots(1, panels, figsize=(5 * panels, 3.6), squeeze=False)
    for ax, name in zip(axes[0], ["loss", metric][:panels]):
        ax.plot(history["epoch"], history[name], marker="o", label="training")
        if f"val_{name}" in history.columns:
            ax.plot(history["epoch"], history[f"val_{name}"], marker="o", label="validation")
        ax.set_xlabel("epoch")
        ax.set_ylabel(name)
        ax.grid(alpha=0.3)
        ax.legend()
    fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def examples_png(
    pixels: Sequence[np.ndarray], truths: Sequence[str], probabilities: np.ndarray, classes: Sequence[str], *, multilabel: bool, path: Path, title: str
) -> None:
    """A grid of validation pictures with their true label and the model's best classes."""
    plt = _pyplot()
    count = len(pixels)
    columns = min(4, max(count, 1))
    rows = max(1, math.ceil(count / columns))
    fig, axes = plt.subplots(rows, columns, figsize=(2.8 * columns, 3.3 * rows), squeeze=False)
    for ax in axes.ravel():
        ax.axis("off")
    for ax, picture, truth, probs in zip(axes.ravel(), pixels, truths, probabilities):
        ax.imshow(picture)
        best = top_classes(probs, classes, multilabel=multilabel, k=2)
        guess = ", ".join(f"{b['class']} {b['probability']:.2f}" for b in best)
        hit = set(truth.split("|")) & {b["class"] for b in best[:1]}
        ax.set_title(f"true: {truth}\n{guess}", fontsize=7, color="green" if hit else "firebrick")
    fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
