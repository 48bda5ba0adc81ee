"""The person model: MediaPipe's BlazePose detector and landmark network (TFLite) find one person in a picture.

Two passes, as MediaPipe's pose graph runs them: the detector (224 × 224, letterboxed) gives a
body centre and scale; the landmark network looks at the square, rotated region they span
(256 × 256) and gives 33 body landmarks and a person mask. Files: :mod:`person_files`.
Interpreter: ``ai-edge-litert`` (TensorFlow's ``tf.lite.Interpreter`` successor).
"""

from __future__ import annotations

import contextlib
import logging
import math
import os
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from street2shop.errors import InvalidParameter
from street2shop.segmentation.person_files import person_model_file

log = logging.getLogger(__name__)

#: Landmark indices used (MediaPipe's pose topology).
LANDMARKS = {
    "nose": 0, "left_shoulder": 11, "right_shoulder": 12, "left_elbow": 13, "right_elbow": 14,
    "left_wrist": 15, "right_wrist": 16, "left_hip": 23, "right_hip": 24, "left_knee": 25,
    "right_knee": 26, "left_ankle": 27, "right_ankle": 28,
}
BODY_LANDMARKS = 33
_DETECTOR_SIZE = 224
_LANDMARK_SIZE = 256
_ROI_SCALE = 1.25  # MediaPipe enlarges the detector's body circle by this before the landmark pass


@dataclass(frozen=True)
class Person:
    """One person found in a picture, in its pixels.

    Attributes:
        box: ``(x0, y0, x1, y1)``, x1/y1 exclusive: the person mask's and visible landmarks' box.
        score: the detector's confidence (0-1).
        presence: the landmark network's confidence that a body is in its region (0-1).
        landmarks: ``(33, 3)``: x, y in picture pixels and the visibility (0-1) of each landmark.
        mask: ``(H, W)`` float32 person probability.
    """

    box: tuple[int, int, int, int]
    score: float
    presence: float
    landmarks: np.ndarray
    mask: np.ndarray

    def point(self, name: str) -> tuple[float, float, float]:
        """``(x, y, visibility)`` of a named landmark (:data:`LANDMARKS`)."""
        x, y, visibility = self.landmarks[LANDMARKS[name]]
        return float(x), float(y), float(visibility)


class PersonModel:
    """Finds the most confident person in a picture; safe to share between threads.

    Args:
        directory: where the files are (default: :func:`person_files.person_models_dir`).
        min_score: detections under this confidence are ignored.
        min_presence: a landmark pass under this confidence means no person.
        threads: TFLite interpreter threads.

    Raises:
        PersonModelMissing: a file is missing or not the expected one (names the set-up command).
    """

    def __init__(
        self,
        directory: str | os.PathLike[str] | None = None,
        *,
        min_score: float = 0.5,
        min_presence: float = 0.5,
        threads: int = 1,
    ):
        self.detector_path = person_model_file("pose_detection", directory)
        self.landmark_path = person_model_file("pose_landmark_full", directory)
        self.min_score = float(min_score)
        self.min_presence = float(min_presence)
        self._detector = _interpreter(self.detector_path, threads)
        self._landmarks = _interpreter(self.landmark_path, threads)
        self._anchors = _anchors()
        self._lock = threading.Lock()

    def find(self, rgb: np.ndarray) -> Person | None:
        """The most confident person in an ``(H, W, 3)`` uint8 RGB picture, or None."""
        if not isinstance(rgb, np.ndarray) or rgb.dtype != np.uint8 or rgb.ndim != 3 or rgb.shape[2] != 3:
            raise InvalidParameter(f"expected an (H, W, 3) uint8 RGB picture, got {getattr(rgb, 'shape', type(rgb).__name__)}")
        height, width = rgb.shape[:2]
        if min(height, width) < 16:
            return None
        with self._lock:
            detection = self._detect(rgb)
            if detection is None:
                return None
            score, centre, top = detection
            roi = _roi(centre, top)
            crop, to_picture = _warp_roi(rgb, roi)
            landmarks, presence, mask_logits = self._landmark_pass(crop)
        if presence < self.min_presence:
            log.debug("person detector score %.2f but landmark presence %.2f: no person", score, presence)
            return None
        points = np.concatenate([landmarks[:, :2], np.ones((BODY_LANDMARKS, 1), np.float32)], axis=1) @ to_picture.T
        mask = cv2.warpAffine(
            _sigmoid(mask_logits), to_picture, (width, height),
            flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT, borderValue=0.0,
        )
        visibility = _sigmoid(landmarks[:, 3])
        marks = np.concatenate([points, visibility[:, None]], axis=1).astype(np.float32)
        box = _person_box(mask, marks, width, height)
        if box is None:
            return None
        return Person(box=box, score=score, presence=presence, landmarks=marks, mask=mask.astype(np.float32))

    def _detect(self, rgb: np.ndarray) -> tuple[float, np.ndarray, np.ndarray] | None:
        """The best detection: its score, and the body centre and its "top" keypoint in picture pixels."""
        height, width = rgb.shape[:2]
        side = max(height, width)
        scale = _DETECTOR_SIZE / side
        resized = cv2.resize(rgb, (max(1, round(width * scale)), max(1, round(height * scale))), interpolation=cv2.INTER_AREA)
        canvas = np.zeros((_DETECTOR_SIZE, _DETECTOR_SIZE, 3), np.float32)  # letterbox, padding 0 after scaling to [-1, 1]
        pad_y, pad_x = (_DETECTOR_SIZE - resized.shape[0]) // 2, (_DETECTOR_SIZE - resized.shape[1]) // 2
        canvas[pad_y:pad_y + resized.shape[0], pad_x:pad_x + resized.shape[1]] = resized.astype(np.float32) / 127.5 - 1.0
        raw_boxes, raw_scores = _run(self._detector, canvas)
        scores = _sigmoid(np.clip(raw_scores.reshape(-1), -100.0, 100.0))
        best = int(np.argmax(scores))
        if scores[best] < self.min_score:
            return None
        values = raw_boxes.reshape(-1, 12)[best] / _DETECTOR_SIZE
        anchor = self._anchors[best]
        keypoints = values[4:].reshape(4, 2) + anchor  # 0: hip centre, 1: a point above the head that sets the body's scale
        to_pixels = (keypoints * _DETECTOR_SIZE - [pad_x, pad_y]) / scale
        return float(scores[best]), to_pixels[0], to_pixels[1]

    def _landmark_pass(self, crop: np.ndarray) -> tuple[np.ndarray, float, np.ndarray]:
        landmarks, flag, mask = _run(self._landmarks, crop.astype(np.float32) / 255.0)[:3]
        # Output order: landmarks (1, 195), pose flag (1, 1), segmentation (1, 256, 256, 1).
        landmarks = landmarks.reshape(-1, 5)[:BODY_LANDMARKS]
        return landmarks, float(np.asarray(flag).reshape(-1)[0]), mask.reshape(_LANDMARK_SIZE, _LANDMARK_SIZE)


# --- interpreter ----------------------------------------------------------------------------------


def _interpreter(path: Path, threads: int):
    from ai_edge_litert.interpreter import Interpreter

    with _native_stderr_quiet():
        interpreter = Interpreter(model_path=str(path), num_threads=threads)
        interpreter.allocate_tensors()
    return interpreter


@contextlib.contextmanager
def _native_stderr_quiet() -> Iterator[None]:
    """Hide the runtime's C++ start-up line ("Created TensorFlow Lite XNNPACK delegate") unless debugging."""
    if log.isEnabledFor(logging.DEBUG):
        yield
        return
    try:
        saved = os.dup(2)
    except OSError:
        yield
        return
    try:
        with open(os.devnull, "wb") as devnull:
            os.dup2(devnull.fileno(), 2)
            yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)


def _run(interpreter, tensor: np.ndarray) -> list[np.ndarray]:
    """One inference; outputs in the model's declared order."""
    interpreter.set_tensor(interpreter.get_input_details()[0]["index"], tensor[None].astype(np.float32))
    interpreter.invoke()
    return [interpreter.get_tensor(detail["index"]) for detail in interpreter.get_output_details()]


def _sigmoid(values: np.ndarray) -> np.ndarray:
    return (1.0 / (1.0 + np.exp(-np.clip(np.asarray(values, dtype=np.float32), -60.0, 60.0)))).astype(np.float32)


# --- geometry -------------------------------------------------------------------------------------


def _anchors() -> np.ndarray:
    """The detector's 2254 SSD anchor centres (fixed size), in [0, 1] of its input, in output order.

    Layers of one stride share a feature map: strides 8, 16 have 2 anchors a cell, 32 has 3 layers × 2.
    """
    centres = []
    for stride, per_cell in ((8, 2), (16, 2), (32, 6)):
        cells = math.ceil(_DETECTOR_SIZE / stride)
        for y in range(cells):
            for x in range(cells):
                centres.extend([((x + 0.5) / cells, (y + 0.5) / cells)] * per_cell)
    return np.asarray(centres, dtype=np.float32)


def _roi(centre: np.ndarray, top: np.ndarray) -> tuple[np.ndarray, float, float]:
    """The landmark pass's square region: centre, side (pixels), rotation (radians) that makes the body upright."""
    dx, dy = float(top[0] - centre[0]), float(top[1] - centre[1])
    side = 2.0 * math.hypot(dx, dy) * _ROI_SCALE
    rotation = math.pi / 2 - math.atan2(-dy, dx)
    rotation = (rotation + math.pi) % (2 * math.pi) - math.pi
    return centre.astype(np.float64), max(side, 1.0), rotation


def _warp_roi(rgb: np.ndarray, roi: tuple[np.ndarray, float, float]) -> tuple[np.ndarray, np.ndarray]:
    """The region resampled to 256 × 256 (outside the picture: black), and the 2 × 3 map from crop to picture pixels."""
    centre, side, rotation = roi
    scale = side / _LANDMARK_SIZE
    cos, sin = math.cos(rotation) * scale, math.sin(rotation) * scale
    half = _LANDMARK_SIZE / 2
    # Crop pixel (u, v) -> picture: centre + R(rotation) · scale · (u - half, v - half).
    to_picture = np.array(
        [[cos, -sin, centre[0] - cos * half + sin * half], [sin, cos, centre[1] - sin * half - cos * half]], dtype=np.float64
    )
    crop = cv2.warpAffine(
        rgb, to_picture, (_LANDMARK_SIZE, _LANDMARK_SIZE), flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
        borderMode=cv2.BORDER_CONSTANT, borderValue=(0, 0, 0),
    )
    return crop, to_picture


def _person_box(mask: np.ndarray, marks: np.ndarray, width: int, height: int) -> tuple[int, int, int, int] | None:
    """The box of the person mask (over 0.5) and of the visible landmarks, clipped to the picture."""
    xs, ys = [], []
    rows = np.flatnonzero((mask >= 0.5).any(axis=1))
    cols = np.flatnonzero((mask >= 0.5).any(axis=0))
    if rows.size:
        xs += [cols[0], cols[-1] + 1]
        ys += [rows[0], rows[-1] + 1]
    visible = marks[marks[:, 2] >= 0.5]
    if len(visible):
        xs += [visible[:, 0].min(), visible[:, 0].max() + 1]
        ys += [visible[:, 1].min(), visible[:, 1].max() + 1]
    if not xs:
        return None
    x0, y0 = max(0, math.floor(min(xs))), max(0, math.floor(min(ys)))
    x1, y1 = min(width, math.ceil(max(xs))), min(height, math.ceil(max(ys)))
    if x1 <= x0 or y1 <= y0:
        return None
    return (int(x0), int(y0), int(x1), int(y1))


def person_model_if_installed(directory: str | os.PathLike[str] | None = None) -> PersonModel | None:
    """The person model, or None with a warning naming the set-up when its files are not installed.

    For deployed services (the DSS API node and webapp), where a code env built without its
    resources init script must still answer, one answer per picture.
    """
    from street2shop.segmentation.person_files import PersonModelMissing

    try:
        return PersonModel(directory)
    except PersonModelMissing as err:
        log.warning("no per-garment answers: %s", err)
        return None
