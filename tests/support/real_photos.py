"""Debian's opencv-doc sample photographs (installed by the Makefile's test set-up, never committed)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

OPENCV_DATA = Path("/usr/share/doc/opencv-doc/examples/data")
#: ImageNet-1k class names, one a line in class-index order (shipped by opencv-doc for its dnn samples).
IMAGENET_CLASSES = OPENCV_DATA / "dnn" / "classification_classes_ILSVRC2012.txt"


def photo_path(name: str) -> Path:
    """The path of one opencv-doc photo; a clear failure if the package is missing."""
    path = OPENCV_DATA / name
    assert path.is_file(), f"{path} is missing: install Debian's opencv-doc (make test does, as root)"
    return path


def read_rgb(name: str, size: int | None = None) -> np.ndarray:
    """An opencv-doc photo as uint8 RGB, resized to ``size`` x ``size`` (area interpolation) when given."""
    import cv2

    image = cv2.imread(str(photo_path(name)), cv2.IMREAD_COLOR)
    assert image is not None, f"cannot decode {name}"
    image = cv2.cvtColor(image, cv2.COLOR_BGR2RGB)
    if size:
        image = cv2.resize(image, (size, size), interpolation=cv2.INTER_AREA)
    return image


def imagenet_class_names() -> list[str]:
    names = photo_path(IMAGENET_CLASSES.relative_to(OPENCV_DATA).as_posix()).read_text(encoding="utf-8").splitlines()
    assert len(names) == 1000
    return names
