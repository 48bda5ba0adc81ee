"""Cut the garment out of a picture: find its box, then segment inside the box with OpenCV GrabCut."""

from __future__ import annotations

import logging
import math
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

import cv2
import numpy as np

from street2shop.errors import InvalidParameter
from street2shop.segmentation.params import BACKGROUNDS, SegmentParams, _check_range

log = logging.getLogger(__name__)


@runtime_checkable
class MaskPredictor(Protocol):
    """Anything that maps an RGB picture to a per-pixel garment probability (see ``mask_model``)."""

    def predict(self, rgb: np.ndarray) -> np.ndarray:
        """Return an ``(H, W)`` float array of garment probabilities in [0, 1] for an ``(H, W, 3)`` picture."""
        ...


@dataclass(frozen=True)
class Segmentation:
    """Where the garment is in a picture.

    Attributes:
        mask: ``(H, W)`` uint8, 255 on the garment, 0 elsewhere (all 255 when ``method == 'whole'``).
        box: the mask's bounding box ``(x0, y0, x1, y1)``, x1/y1 exclusive, in picture pixels.
        method: where the box came from: ``model``, ``border``, ``centre`` or ``whole`` (fallback).
        flags: quality flags, names from ``FLAGS``.
        area_fraction: the garment's share of the picture's pixels.
        seed_box: the enlarged box GrabCut worked in (the whole picture for ``whole``).
    """

    mask: np.ndarray
    box: tuple[int, int, int, int]
    method: str
    flags: tuple[str, ...]
    area_fraction: float
    seed_box: tuple[int, int, int, int]


def segment_garment(
    rgb: np.ndarray,
    *,
    params: SegmentParams = SegmentParams(),
    mask_model: MaskPredictor | None = None,
) -> Segmentation:
    """Segment the garment in a picture.

    The box comes from the mask model when one is given and finds something, else from the
    foreground against a plain border (product shots), else from a centre prior. The box is
    enlarged by ``params.margin``; GrabCut runs on its crop downscaled to ``params.work_size``,
    seeded by the model's or the border's mask where there is one; the largest connected
    component is kept and its holes filled, then the mask is upscaled back.

    Degenerate pictures (tiny, blank, a garment filling the frame, GrabCut finding nothing) give
    the whole picture with a flag saying why; this function does not raise on them.

    Args:
        rgb: ``(H, W, 3)`` uint8 RGB picture (``(H, W)`` grayscale and ``(H, W, 4)`` RGBA accepted).
        params: segmentation parameters.
        mask_model: optional per-pixel garment probability model (``street2shop.segmentation.mask_model``).

    Returns:
        The segmentation, with the mask at the picture's resolution.

    Raises:
        InvalidParameter: ``rgb`` is not an image array at all (wrong rank or dtype).
    """
    image = _as_rgb(rgb)
    height, width = image.shape[:2]
    if height == 0 or width == 0:
        return _whole(height, width, ("empty_image",))
    if min(height, width) < params.min_side:
        return _whole(height, width, ("tiny_image",))
    small = _downscale(image, params.work_size)
    if _is_blank(small):
        return _whole(height, width, ("blank_image",))

    flags: list[str] = []
    seed, method = None, None  # seed: at the size of ``small``, values _SEED_*
    if mask_model is not None:
        seed = _model_seed(image, small.shape[:2], mask_model, params, flags)
        if seed is not None:
            method = "model"
            box = _scale_box(_mask_box(seed == _SEED_GARMENT), small.shape, image.shape)
    if method is None:
        found = _border_foreground(small, params)
        if found is not None:
            region, seed = found
            if not region.any():
                return _whole(height, width, (*flags, "no_foreground"))
            method = "border"
            box = _scale_box(_mask_box(region), small.shape, image.shape)
    if method is None:
        method = "centre"
        box_w, box_h = width * params.centre_box[0], height * params.centre_box[1]
        x0, y0 = (width - box_w) / 2, (height - box_h) / 2
        box = (round(x0), round(y0), round(x0 + box_w), round(y0 + box_h))
    if _box_area(box) >= params.max_box_fraction * width * height:
        return _whole(height, width, (*flags, "box_covers_image"))
    seed_box = _enlarge(box, params.margin, width, height)

    try:
        mask = _grabcut(image, seed, seed_box, method, params, flags)
    except cv2.error as err:
        log.warning("GrabCut failed (%s); keeping the whole picture", err)
        return _whole(height, width, (*flags, "grabcut_failed"))
    if mask is None:
        return _whole(height, width, tuple(flags))
    area = int(np.count_nonzero(mask))
    area_fraction = area / (width * height)
    if area_fraction < 0.05:
        flags.append("small_garment")
    if mask[0].any() or mask[-1].any() or mask[:, 0].any() or mask[:, -1].any():
        flags.append("touches_border")
    return Segmentation(
        mask=mask,
        box=_mask_box(mask),
        method=method,
        flags=tuple(flags),
        area_fraction=area_fraction,
        seed_box=seed_box,
    )


def apply_mask(rgb: np.ndarray, mask: np.ndarray, *, background: str = "white") -> np.ndarray:
    """Replace the background of a picture.

    Args:
        rgb: ``(H, W, 3)`` uint8 RGB picture.
        mask: ``(H, W)`` mask, non-zero on the garment.
        background: ``white`` gives an RGB picture on white; ``transparent`` gives RGBA with the
            mask as alpha.

    Raises:
        InvalidParameter: unknown background, or mask and picture of different sizes.
    """
    image = _as_rgb(rgb)
    check_background(background)
    if mask.shape[:2] != image.shape[:2] or mask.ndim != 2:
        raise InvalidParameter(f"mask shape {mask.shape} does not match picture shape {image.shape[:2]}")
    keep = mask > 0
    if background == "transparent":
        alpha = np.where(keep, 255, 0).astype(np.uint8)
        return np.dstack([image, alpha])
    out = np.full_like(image, 255)
    out[keep] = image[keep]
    return out


def crop_to_garment(
    rgb: np.ndarray, seg: Segmentation, *, background: str = "white", pad: float = 0.05
) -> np.ndarray:
    """The garment cut out of its background and cropped to its box: what an encoder sees with segmentation on.

    Args:
        rgb: the picture ``seg`` was computed on.
        seg: its segmentation.
        background: ``white`` (RGB) or ``transparent`` (RGBA).
        pad: the box is enlarged by this fraction of its size on each side (clipped to the picture).
    """
    _check_range("pad", pad, 0.0, 1.0)
    cut = apply_mask(rgb, seg.mask, background=background)
    height, width = cut.shape[:2]
    x0, y0, x1, y1 = _enlarge(seg.box, pad, width, height)
    if x1 <= x0 or y1 <= y0:
        return cut
    return np.ascontiguousarray(cut[y0:y1, x0:x1])


def segment_and_crop(
    rgb: np.ndarray,
    *,
    params: SegmentParams = SegmentParams(),
    mask_model: MaskPredictor | None = None,
    pad: float = 0.05,
) -> np.ndarray:
    """Segment a picture and return the garment on white, cropped to its box (RGB).

    This is the picture transform that embedding, training, search and serving apply when
    segmentation is on, so a query is processed exactly like the catalogue.
    """
    return crop_to_garment(rgb, segment_garment(rgb, params=params, mask_model=mask_model), pad=pad)


def garment_transform(
    *, params: SegmentParams = SegmentParams(), mask_model: MaskPredictor | None = None, pad: float = 0.05
) -> Callable[[np.ndarray], np.ndarray]:
    """:func:`segment_and_crop` with its settings bound: a ``pixels -> pixels`` transform for embedders."""
    model = LockedModel(mask_model, threading.Lock()) if mask_model is not None else None

    def transform(rgb: np.ndarray) -> np.ndarray:
        return segment_and_crop(rgb, params=params, mask_model=model, pad=pad)

    return transform


class LockedModel:
    """A mask model shared by threads: Keras models are called one batch at a time."""

    def __init__(self, model: Any, lock: threading.Lock):
        self._model = model
        self._lock = lock
        self.threshold = float(getattr(model, "threshold", 0.5))

    def predict(self, rgb: np.ndarray) -> np.ndarray:
        with self._lock:
            return self._model.predict(rgb)


# --- inputs and fallbacks -------------------------------------------------------------------------


def _as_rgb(rgb: np.ndarray) -> np.ndarray:
    if not isinstance(rgb, np.ndarray):
        raise InvalidParameter(f"expected a numpy image array, got {type(rgb).__name__}")
    if rgb.dtype != np.uint8:
        raise InvalidParameter(f"expected a uint8 image, got dtype {rgb.dtype}")
    if rgb.ndim == 2:
        return np.repeat(rgb[:, :, None], 3, axis=2)
    if rgb.ndim == 3 and rgb.shape[2] == 3:
        return rgb
    if rgb.ndim == 3 and rgb.shape[2] == 4:
        return np.ascontiguousarray(rgb[:, :, :3])
    raise InvalidParameter(f"expected an (H, W, 3) RGB image, got shape {rgb.shape}")


def check_background(background: str) -> None:
    if background not in BACKGROUNDS:
        raise InvalidParameter(f"background must be one of {', '.join(BACKGROUNDS)}, got {background!r}")


def _whole(height: int, width: int, flags: tuple[str, ...]) -> Segmentation:
    return Segmentation(
        mask=np.full((height, width), 255, dtype=np.uint8),
        box=(0, 0, width, height),
        method="whole",
        flags=tuple(flags),
        area_fraction=1.0 if height and width else 0.0,
        seed_box=(0, 0, width, height),
    )


def _downscale(image: np.ndarray, size: int) -> np.ndarray:
    height, width = image.shape[:2]
    scale = size / max(height, width)
    if scale >= 1:
        return image
    new_size = (max(1, round(width * scale)), max(1, round(height * scale)))
    return cv2.resize(image, new_size, interpolation=cv2.INTER_AREA)


def _is_blank(small: np.ndarray) -> bool:
    # Robust range: a few stray pixels (JPEG ringing, a dust speck) do not make a picture.
    gray = cv2.cvtColor(small, cv2.COLOR_RGB2GRAY)
    low, high = np.percentile(gray, [0.5, 99.5])
    return bool(high - low <= 6)


# --- box sources ----------------------------------------------------------------------------------


def _model_seed(
    image: np.ndarray, shape: tuple[int, int], model: MaskPredictor, params: SegmentParams, flags: list[str]
) -> np.ndarray | None:
    """The model's garment pixels at ``shape`` (the downscaled picture's), or None with a flag."""
    height, width = shape
    try:
        probability = np.asarray(model.predict(image), dtype=np.float32)
    except Exception as err:  # a user's model may fail in any way; the other box sources still work
        log.warning("mask model failed (%s: %s); using another box source", type(err).__name__, err)
        flags.append("model_failed")
        return None
    probability = np.squeeze(probability)
    if probability.ndim != 2 or probability.size == 0:
        log.warning("mask model returned shape %s, expected (H, W); using another box source", probability.shape)
        flags.append("model_failed")
        return None
    if probability.shape != (height, width):
        interpolation = cv2.INTER_AREA if probability.shape[0] > height else cv2.INTER_LINEAR
        probability = cv2.resize(probability, (width, height), interpolation=interpolation)
    threshold = params.model_threshold
    if threshold is None:
        threshold = float(getattr(model, "threshold", 0.5))
    seed = _drop_specks((probability >= threshold).astype(np.uint8) * 255)
    if not seed.any():
        flags.append("model_empty")
        return None
    # A model's mask is ragged: what it leaves out is only probably background.
    seed[seed == 0] = _SEED_MAYBE
    return seed


def _border_foreground(small: np.ndarray, params: SegmentParams) -> tuple[np.ndarray, np.ndarray] | None:
    """The garment's region and its pixels that differ from a plain border's colour; None when the
    border is not plain.

    The region (specks removed, gaps closed, holes filled) gives the box; the pixels seed GrabCut,
    so a narrow background gap the closing filled is still background to it.
    """
    height, width = small.shape[:2]
    band = max(1, round(params.border_width * min(height, width)))
    lab = cv2.cvtColor(small.astype(np.float32) / 255.0, cv2.COLOR_RGB2Lab)
    border = np.concatenate(
        [
            lab[:band].reshape(-1, 3),
            lab[-band:].reshape(-1, 3),
            lab[band:-band, :band].reshape(-1, 3),
            lab[band:-band, -band:].reshape(-1, 3),
        ]
    )
    colour = np.median(border, axis=0)
    border_distance = np.linalg.norm(border - colour, axis=1)
    if np.mean(border_distance <= params.border_tolerance) < params.plain_border_fraction:
        return None
    if np.median(border_distance) > params.max_border_noise:  # a textured floor or wall, not a studio backdrop
        return None
    # A clean studio background allows a tight tolerance (white garments on white); a noisy one needs more.
    tolerance = float(np.clip(2.0 * np.percentile(border_distance, 90) + 2.0, 2.5, params.border_tolerance))
    distance = np.linalg.norm(lab - colour, axis=2)
    foreground = (distance > tolerance).astype(np.uint8) * 255
    region = _close_and_fill(_drop_specks(foreground), params.close_size)
    # Background-coloured pixels away from any foreground pixel are certain background: GrabCut
    # otherwise tends to swallow narrow background gaps (between trouser legs) into the garment.
    # Near the foreground they may be the light threads of a white fabric: only probable there.
    reach = max(2.0, 0.02 * min(height, width))
    away = cv2.distanceTransform(cv2.bitwise_not(foreground), cv2.DIST_L2, 3) > reach
    seed = np.where(away & (distance <= tolerance / 2), _SEED_SURE_BACKGROUND, _SEED_MAYBE).astype(np.uint8)
    seed[(foreground > 0) & (region > 0)] = _SEED_GARMENT
    return region, seed


def _close_and_fill(mask: np.ndarray, fraction: float) -> np.ndarray:
    """Close gaps narrower than ``fraction`` of the shorter side (stripes, seams), then fill holes."""
    side = 2 * round(fraction * min(mask.shape[:2]) / 2) + 1  # odd: an even kernel shifts the mask
    if side > 1:
        kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (side, side))
        padded = cv2.copyMakeBorder(mask, side, side, side, side, cv2.BORDER_CONSTANT, value=0)
        mask = cv2.morphologyEx(padded, cv2.MORPH_CLOSE, kernel)[side:-side, side:-side]
    contours, _ = cv2.findContours(mask, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
    filled = np.zeros_like(mask)
    cv2.drawContours(filled, contours, -1, 255, thickness=cv2.FILLED)
    return filled


def _drop_specks(mask: np.ndarray) -> np.ndarray:
    """Open away isolated pixels and keep components at least a tenth of the largest (the report's
    segmenter gave ragged masks; its box had to come from the garment, not from stray pixels)."""
    side = min(mask.shape[:2])
    radius = max(1, side // 200)
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * radius + 1, 2 * radius + 1))
    opened = cv2.morphologyEx(mask, cv2.MORPH_OPEN, kernel)
    count, labels, stats, _ = cv2.connectedComponentsWithStats(opened, connectivity=8)
    if count <= 1:
        return opened
    areas = stats[1:, cv2.CC_STAT_AREA]
    keep = np.flatnonzero(areas >= 0.1 * areas.max()) + 1
    return np.where(np.isin(labels, keep), 255, 0).astype(np.uint8)


# Seed values: what a box source says about each pixel, and the GrabCut label it becomes.
_SEED_SURE_BACKGROUND, _SEED_MAYBE, _SEED_GARMENT = 0, 128, 255
_SEED_LABELS = np.full(256, cv2.GC_PR_BGD, dtype=np.uint8)
_SEED_LABELS[_SEED_SURE_BACKGROUND] = cv2.GC_BGD
_SEED_LABELS[_SEED_GARMENT] = cv2.GC_PR_FGD


# --- GrabCut --------------------------------------------------------------------------------------


def _grabcut(
    image: np.ndarray,
    seed: np.ndarray | None,
    seed_box: tuple[int, int, int, int],
    method: str,
    params: SegmentParams,
    flags: list[str],
) -> np.ndarray | None:
    """The garment's mask at full resolution, or None (with a flag) when there is none."""
    height, width = image.shape[:2]
    bx0, by0, bx1, by1 = seed_box
    # GrabCut learns the background from what lies outside the box: keep a band of it in the crop.
    cx0, cy0, cx1, cy1 = _enlarge(seed_box, params.context, width, height, minimum=2)
    crop = image[cy0:cy1, cx0:cx1]
    crop_h, crop_w = crop.shape[:2]
    scale = min(1.0, params.work_size / max(crop_h, crop_w))
    work_w, work_h = max(1, round(crop_w * scale)), max(1, round(crop_h * scale))
    work = cv2.resize(crop, (work_w, work_h), interpolation=cv2.INTER_AREA) if scale < 1 else crop

    rx0, ry0 = math.floor((bx0 - cx0) * scale), math.floor((by0 - cy0) * scale)
    rx1, ry1 = math.ceil((bx1 - cx0) * scale), math.ceil((by1 - cy0) * scale)
    labels = np.full((work_h, work_w), cv2.GC_BGD, dtype=np.uint8)
    if seed is None:
        labels[ry0:ry1, rx0:rx1] = cv2.GC_PR_FGD
    else:
        seed_work = _seed_on_crop(seed, (cx0, cy0, cx1, cy1), (height, width), (work_h, work_w))
        inside = labels[ry0:ry1, rx0:rx1]
        inside[:] = _SEED_LABELS[seed_work[ry0:ry1, rx0:rx1]]
    is_background = (labels == cv2.GC_BGD) | (labels == cv2.GC_PR_BGD)
    if is_background.all() or not is_background.any():
        flags.append("box_covers_image" if not is_background.any() else "grabcut_empty")
        return None

    background_model = np.zeros((1, 65), np.float64)
    foreground_model = np.zeros((1, 65), np.float64)
    cv2.grabCut(
        np.ascontiguousarray(work), labels, None, background_model, foreground_model,
        params.iterations, cv2.GC_INIT_WITH_MASK,
    )
    garment = ((labels == cv2.GC_FGD) | (labels == cv2.GC_PR_FGD)).astype(np.uint8) * 255
    garment = _largest_component_filled(garment, params.close_size, flags)
    if np.count_nonzero(garment) < params.min_area_fraction * width * height * scale * scale:
        flags.append("grabcut_empty")
        return None
    if method == "centre" and _contrast(work, garment) < params.min_contrast:
        flags.append("low_contrast")
        return None

    if scale < 1:
        # Linear interpolation then a threshold gives smooth edges instead of blocky upscaled pixels.
        garment = cv2.resize(garment, (crop_w, crop_h), interpolation=cv2.INTER_LINEAR)
        garment = np.where(garment >= 128, 255, 0).astype(np.uint8)
    mask = np.zeros((height, width), dtype=np.uint8)
    mask[cy0:cy1, cx0:cx1] = garment
    if not mask.any():
        flags.append("grabcut_empty")
        return None
    return mask


def _seed_on_crop(
    seed: np.ndarray, crop: tuple[int, int, int, int], shape: tuple[int, int], work_shape: tuple[int, int]
) -> np.ndarray:
    """The part of a seed (at any size) under ``crop`` (picture pixels), resized to the work size."""
    x0, y0, x1, y1 = crop

    def sample(start: int, stop: int, count: int, picture_side: int, seed_side: int) -> np.ndarray:
        # Nearest-neighbour: the seed pixel under each work pixel's centre.
        centres = start + (np.arange(count) + 0.5) * (stop - start) / count
        return np.clip((centres * seed_side / picture_side).astype(np.int64), 0, seed_side - 1)

    ys = sample(y0, y1, work_shape[0], shape[0], seed.shape[0])
    xs = sample(x0, x1, work_shape[1], shape[1], seed.shape[1])
    return seed[np.ix_(ys, xs)]


def _largest_component_filled(mask: np.ndarray, close_size: float, flags: list[str]) -> np.ndarray:
    """The largest connected component with its holes filled.

    A garment found in several pieces (stripes of the background's colour cut it apart) is
    closed first, with ``close_size`` then twice that; closing is not applied otherwise, as it
    would also fill narrow gaps that are background (between trouser legs).
    """
    count, labels, stats, _ = cv2.connectedComponentsWithStats(mask, connectivity=8)
    if count <= 1:
        return mask
    areas = stats[1:, cv2.CC_STAT_AREA]
    for size in (close_size, 2 * close_size):
        if areas.max() >= 0.8 * areas.sum() or size <= 0:
            break
        closed = _close_and_fill(mask, size)
        count, labels, stats, _ = cv2.connectedComponentsWithStats(closed, connectivity=8)
        areas = stats[1:, cv2.CC_STAT_AREA]
    if areas.max() < 0.8 * areas.sum():
        flags.append("fragmented")
    largest = int(np.argmax(areas)) + 1
    return _close_and_fill(np.where(labels == largest, 255, 0).astype(np.uint8), 0.0)


def _contrast(work: np.ndarray, garment: np.ndarray) -> float:
    """Bhattacharyya distance between the colour histograms of the segment and of the rest."""
    outside = cv2.bitwise_not(garment)
    if not outside.any():
        return 0.0
    hsv = cv2.cvtColor(work, cv2.COLOR_RGB2HSV)
    bins, ranges = [12, 6, 6], [0, 180, 0, 256, 0, 256]
    inner = cv2.calcHist([hsv], [0, 1, 2], garment, bins, ranges)
    outer = cv2.calcHist([hsv], [0, 1, 2], outside, bins, ranges)
    cv2.normalize(inner, inner, 1.0, 0.0, cv2.NORM_L1)
    cv2.normalize(outer, outer, 1.0, 0.0, cv2.NORM_L1)
    return float(cv2.compareHist(inner, outer, cv2.HISTCMP_BHATTACHARYYA))


# --- boxes ----------------------------------------------------------------------------------------


def _scale_box(
    box: tuple[int, int, int, int], shape: tuple[int, ...], target: tuple[int, ...]
) -> tuple[int, int, int, int]:
    """A box on a picture of ``shape`` moved to the same picture at ``target``'s size (outward rounding)."""
    sy, sx = target[0] / shape[0], target[1] / shape[1]
    x0, y0, x1, y1 = box
    return (
        max(0, math.floor(x0 * sx)), max(0, math.floor(y0 * sy)),
        min(target[1], math.ceil(x1 * sx)), min(target[0], math.ceil(y1 * sy)),
    )


def _mask_box(mask: np.ndarray) -> tuple[int, int, int, int]:
    rows = np.flatnonzero(mask.any(axis=1))
    cols = np.flatnonzero(mask.any(axis=0))
    if rows.size == 0:
        return (0, 0, 0, 0)
    return (int(cols[0]), int(rows[0]), int(cols[-1]) + 1, int(rows[-1]) + 1)


def _box_area(box: tuple[int, int, int, int]) -> int:
    x0, y0, x1, y1 = box
    return max(0, x1 - x0) * max(0, y1 - y0)


def _enlarge(
    box: tuple[int, int, int, int], fraction: float, width: int, height: int, *, minimum: int = 0
) -> tuple[int, int, int, int]:
    x0, y0, x1, y1 = box
    dx = max(minimum, round(fraction * (x1 - x0)))
    dy = max(minimum, round(fraction * (y1 - y0)))
    return (max(0, x0 - dx), max(0, y0 - dy), min(width, x1 + dx), min(height, y1 + dy))
