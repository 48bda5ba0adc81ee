"""Zalando's Fashion-MNIST as installed by Debian's ``dataset-fashion-mnist``: read the idx files, write pictures + manifest.

Used by the fast test (tests/training/test_fashion_mnist.py) and by bench/fashion_mnist.py.
"""

from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np
import pandas as pd

DIRECTORY = Path("/usr/share/datasets/fashion-mnist")
#: The class of each label number, as Zalando names them.
CLASSES = ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot")
FILES = {
    "train": ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz"),
    "test": ("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"),
}


def available(directory: Path = DIRECTORY) -> bool:
    """Whether the four idx files are installed."""
    return all((directory / name).is_file() for pair in FILES.values() for name in pair)


def read_split(split: str, directory: Path = DIRECTORY) -> tuple[np.ndarray, np.ndarray]:
    """``(pictures (n, 28, 28) uint8, labels (n,) uint8)`` of ``train`` or ``test`` (idx headers: 16 and 8 bytes)."""
    images_name, labels_name = FILES[split]
    with gzip.open(directory / images_name, "rb") as handle:
        raw = handle.read()
    if int.from_bytes(raw[:4], "big") != 2051:
        raise ValueError(f"{images_name}: not an idx3 picture file")
    count, rows, cols = (int.from_bytes(raw[i : i + 4], "big") for i in (4, 8, 12))
    pictures = np.frombuffer(raw, np.uint8, offset=16).reshape(count, rows, cols)
    with gzip.open(directory / labels_name, "rb") as handle:
        raw = handle.read()
    if int.from_bytes(raw[:4], "big") != 2049:
        raise ValueError(f"{labels_name}: not an idx1 label file")
    labels = np.frombuffer(raw, np.uint8, offset=8)
    if len(labels) != count:
        raise ValueError(f"{split}: {count} pictures but {len(labels)} labels")
    return pictures, labels


def class_name(label: int) -> str:
    """A class name usable as a label value (no '/', which a multi-label reader could split)."""
    return CLASSES[int(label)].replace("/", "-").replace(" ", "-").lower()


def write_pictures(
    directory: Path, split: str, pictures: np.ndarray, labels: np.ndarray, *, start: int = 0
) -> pd.DataFrame:
    """Write each picture as a PNG under ``directory/split/`` and return its manifest rows.

    One product per picture (``product_id`` ``split-i``); ``split`` is ``train`` or ``test`` in the
    manifest, so ``street2shop train`` holds out its own validation products from the training rows.
    """
    import cv2

    folder = directory / split
    folder.mkdir(parents=True, exist_ok=True)
    rows = []
    for i, (picture, label) in enumerate(zip(pictures, labels), start=start):
        name = f"{split}/{i:05d}.png"
        if not cv2.imwrite(str(directory / name), picture):
            raise OSError(f"cannot write {directory / name}")
        rows.append({"image": name, "product_id": f"{split}-{i:05d}", "type": class_name(label)})
    return pd.DataFrame(rows)


def balanced_subset(labels: np.ndarray, per_class: int, seed: int = 0) -> np.ndarray:
    """Indices of ``per_class`` pictures of each class, shuffled."""
    rng = np.random.default_rng(seed)
    chosen = [rng.permutation(np.flatnonzero(labels == c))[:per_class] for c in np.unique(labels)]
    return rng.permutation(np.concatenate(chosen))
