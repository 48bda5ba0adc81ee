"""A user-provided Keras garment-mask model: picture in, garment probability per pixel out (docs/segmentation.md)."""

from __future__ import annotations

import hashlib
import json
import logging
import math
import os
import tempfile
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from street2shop.errors import IndexFormatError, InvalidParameter
from street2shop.storage.paths import resolve_inside

log = logging.getLogger(__name__)

#: The Keras model, saved with ``model.save(...)`` in the Keras v3 format.
MODEL_FILE = "mask_model.keras"
#: Optional settings: ``{"format": FORMAT, "input_size": 256, "threshold": 0.5}``.
CONFIG_FILE = "mask_model.json"
FORMAT = "street2shop-mask-model"
#: Input side used when the model accepts any size and the folder does not say.
DEFAULT_INPUT_SIZE = 256


class MaskModel:
    """A loaded garment-mask model.

    The Keras model takes a batch of RGB pictures ``(N, S, S, 3)``, float32 values 0–255 (any
    scaling is a layer inside the model), and returns garment probabilities ``(N, s, s, 1)`` or
    ``(N, s, s)`` in [0, 1], at any resolution ``s``. Pictures are letterboxed on white to
    ``S x S``; the probabilities are cropped back and resized to the picture.

    Attributes:
        input_size: the side ``S`` pictures are fitted to.
        threshold: probability above which a pixel is garment.
        fingerprint: SHA-256 of the model file ("" for an in-memory model).
    """

    def __init__(self, model: Any, *, input_size: int, threshold: float = 0.5, fingerprint: str = ""):
        if not isinstance(input_size, int) or isinstance(input_size, bool) or not 8 <= input_size <= 4096:
            raise InvalidParameter(f"mask model input_size must be an integer in [8, 4096], got {input_size!r}")
        if not isinstance(threshold, (int, float)) or not 0.0 <= threshold <= 1.0:
            raise InvalidParameter(f"mask model threshold must be in [0, 1], got {threshold!r}")
        self.model = model
        self.input_size = input_size
        self.threshold = float(threshold)
        self.fingerprint = fingerprint

    def predict(self, rgb: np.ndarray) -> np.ndarray:
        """Garment probability per pixel: ``(H, W)`` float32 in [0, 1] for an ``(H, W, 3)`` uint8 picture."""
        return self.predict_batch([rgb])[0]

    def predict_batch(self, pictures: list[np.ndarray]) -> list[np.ndarray]:
        """:meth:`predict` for several pictures in one model call."""
        if not pictures:
            return []
        batch, placements = [], []
        for picture in pictures:
            canvas, placement = _letterbox(picture, self.input_size)
            batch.append(canvas)
            placements.append(placement)
        output = self.model.predict_on_batch(np.stack(batch).astype(np.float32))
        output = np.asarray(output, dtype=np.float32)
        if output.ndim == 4 and output.shape[-1] == 1:
            output = output[..., 0]
        elif output.ndim == 4 and output.shape[-1] == 2:
            output = output[..., 1]  # (background, garment) softmax
        if output.ndim != 3 or output.shape[0] != len(pictures):
            raise IndexFormatError(
                f"mask model output has shape {output.shape}; expected (N, s, s, 1) garment probabilities"
            )
        return [
            _unletterbox(np.clip(probability, 0.0, 1.0), placement, self.input_size)
            for probability, placement in zip(output, placements, strict=True)
        ]


def load_mask_model(folder: str | os.PathLike[str]) -> MaskModel:
    """Load a mask model from a folder holding ``mask_model.keras`` (and optionally ``mask_model.json``).

    The model is loaded with Keras ``safe_mode=True``: a model with Python code in it (``Lambda``
    layers) is refused rather than run.

    Raises:
        IndexFormatError: missing file, unreadable settings, refused or unusable model.
    """
    import keras  # lazy: TensorFlow takes seconds to import

    folder = Path(folder)
    model_path = folder / MODEL_FILE
    if not resolve_inside(folder, MODEL_FILE).is_file():
        raise IndexFormatError(f"mask model folder {folder}: {MODEL_FILE} not found")
    config = _read_config(folder)
    try:
        model = keras.saving.load_model(resolve_inside(folder, MODEL_FILE), compile=False, safe_mode=True)
    except Exception as err:
        raise IndexFormatError(f"mask model {model_path}: could not be loaded safely: {' '.join(str(err).split())[:200]}") from None
    input_shape = model.inputs[0].shape if getattr(model, "inputs", None) else None
    if input_shape is None or len(input_shape) != 4 or input_shape[-1] != 3:
        raise IndexFormatError(f"mask model {model_path}: input shape {input_shape}, expected (None, S, S, 3)")
    fixed = input_shape[1]
    if fixed is not None and input_shape[2] != fixed:
        raise IndexFormatError(f"mask model {model_path}: input must be square, got {input_shape}")
    input_size = int(fixed) if fixed is not None else config.get("input_size", DEFAULT_INPUT_SIZE)
    if fixed is not None and config.get("input_size", fixed) != fixed:
        log.warning(
            "mask model %s: input_size %s in %s ignored, the model takes %s", folder, config["input_size"], CONFIG_FILE, fixed
        )
    fingerprint = hashlib.sha256(resolve_inside(folder, MODEL_FILE).read_bytes()).hexdigest()
    log.info("mask model %s loaded (input %d, fingerprint %s)", folder, input_size, fingerprint[:12])
    try:
        return MaskModel(model, input_size=input_size, threshold=config.get("threshold", 0.5), fingerprint=fingerprint)
    except InvalidParameter as err:
        raise IndexFormatError(f"mask model folder {folder}: {err}") from err


def save_mask_model(
    model: Any, folder: str | os.PathLike[str], *, threshold: float = 0.5, input_size: int | None = None
) -> Path:
    """Save a Keras mask model into ``folder`` following the contract; returns the folder.

    Args:
        model: a Keras model, RGB 0–255 in, per-pixel garment probability out.
        folder: created if missing.
        threshold: probability above which a pixel is garment.
        input_size: side to fit pictures to; needed only when the model accepts any size.
    """
    if not 0.0 <= threshold <= 1.0:
        raise InvalidParameter(f"threshold must be in [0, 1], got {threshold!r}")
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    config: dict[str, Any] = {"format": FORMAT, "threshold": float(threshold)}
    if input_size is not None:
        config["input_size"] = int(input_size)
    # Keras decides the format from the suffix, so the temporary name must end in .keras.
    handle, temporary = tempfile.mkstemp(dir=folder, prefix=".mask_model.tmp-", suffix=".keras")
    os.close(handle)
    try:
        model.save(temporary)
        os.replace(temporary, folder / MODEL_FILE)
    finally:
        if os.path.exists(temporary):
            os.unlink(temporary)
    _write_text_atomic(folder / CONFIG_FILE, json.dumps(config, indent=2) + "\n")
    return folder


def is_mask_model_folder(folder: str | os.PathLike[str]) -> bool:
    """Whether ``folder`` holds a mask model file."""
    return (Path(folder) / MODEL_FILE).is_file()


def _read_config(folder: Path) -> dict[str, Any]:
    path = folder / CONFIG_FILE
    if not resolve_inside(folder, CONFIG_FILE).is_file():
        return {}
    try:
        config = json.loads(resolve_inside(folder, CONFIG_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError) as err:
        raise IndexFormatError(f"mask model settings {path}: not readable JSON: {err}") from err
    if not isinstance(config, dict):
        raise IndexFormatError(f"mask model settings {path}: expected a JSON object")
    if config.get("format", FORMAT) != FORMAT:
        raise IndexFormatError(f"mask model settings {path}: format {config['format']!r}, expected {FORMAT!r}")
    return config


def _write_text_atomic(path: Path, text: str) -> None:
    temporary = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    temporary.write_text(text, encoding="utf-8")
    os.replace(temporary, path)


def _letterbox(picture: np.ndarray, size: int) -> tuple[np.ndarray, tuple[int, ...]]:
    """Fit a picture in a white ``size`` square; returns it and (x, y, fitted w, fitted h, w, h)."""
    if picture.ndim == 2:
        picture = np.repeat(picture[:, :, None], 3, axis=2)
    height, width = picture.shape[:2]
    scale = size / max(height, width)
    new_w, new_h = max(1, round(width * scale)), max(1, round(height * scale))
    interpolation = cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR
    resized = cv2.resize(np.ascontiguousarray(picture[:, :, :3]), (new_w, new_h), interpolation=interpolation)
    canvas = np.full((size, size, 3), 255, dtype=np.uint8)
    x, y = (size - new_w) // 2, (size - new_h) // 2
    canvas[y : y + new_h, x : x + new_w] = resized
    return canvas, (x, y, new_w, new_h, width, height)


def _unletterbox(probability: np.ndarray, placement: tuple[int, ...], size: int) -> np.ndarray:
    """Crop a square model output back to the picture's area and resize it to the picture."""
    x, y, new_w, new_h, width, height = placement
    ratio_y, ratio_x = probability.shape[0] / size, probability.shape[1] / size
    x0, y0 = math.floor(x * ratio_x), math.floor(y * ratio_y)
    x1 = max(x0 + 1, math.ceil((x + new_w) * ratio_x))
    y1 = max(y0 + 1, math.ceil((y + new_h) * ratio_y))
    region = np.ascontiguousarray(probability[y0:y1, x0:x1], dtype=np.float32)
    return cv2.resize(region, (width, height), interpolation=cv2.INTER_LINEAR)
