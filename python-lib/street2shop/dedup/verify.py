"""Geometric verification of candidate duplicate pairs: ORB features, ratio test, RANSAC similarity, aligned detail."""

from __future__ import annotations

import logging
import math
import os
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from street2shop.errors import InvalidParameter
from street2shop.images.decode import DEFAULT_MAX_PIXELS
from street2shop.progress import Progress

logger = logging.getLogger(__name__)

VERIFY_MODES = ("none", "geometric")
#: Orientation of a candidate pair: compare b as it is, mirrored, or try both.
DIRECT, MIRRORED, EITHER = 0, 1, 2
#: Side of the grey picture kept for the aligned detail check (16 KB a picture).
DETAIL_SIDE = 128
#: Side of the chroma (Lab a, b) picture kept for the aligned colour check (2 KB a picture).
CHROMA_SIDE = 32


@dataclass(frozen=True)
class VerifyParams:
    """How candidate pairs are found and verified.

    Defaults measured on the demo catalogue (``bench/dedup_demo_quality.py``): planted crops have
    18-500 inliers and an aligned detail correlation of 0.92-1.0; distinct products of one cut
    (same template, outline and weave) reach 60 inliers but at most 0.86 detail correlation;
    planted duplicates differ in chroma by at most 6, a recoloured print by 106.

    Attributes:
        neighbours: candidates per picture: its nearest pictures by colour thumbnail (or by
            vector when vectors are given), direct and mirrored.
        min_candidate_similarity: a candidate's thumbnail correlation (or cosine) at least this.
        max_side: pictures are shrunk to this longest side before finding features.
        features: ORB features per picture at most.
        ratio: Lowe's ratio test: a match counts when its distance < ratio x the second best's.
        min_inliers: RANSAC inliers (matches the similarity transform explains) at least this ...
        min_inlier_ratio: ... and at least this share of the ratio-test matches ...
        min_detail_correlation: ... and the band-passed grey pictures, aligned by the transform,
            correlate at least this over their overlap: same geometry is not enough, same
            texture is needed (look-alike products share outlines, not their fabric's grain).
        max_chroma_difference: ... and their chroma (Lab a, b, 0-255 scale), aligned, differs by at
            most this at the 90th percentile of pixels: a recoloured variant shares its print and
            grain, not its colour.
        max_rotation: degrees; larger rotations are not a crop or resize.
        min_scale, max_scale: scale factor range of the transform.
    """

    neighbours: int = 5
    min_candidate_similarity: float = 0.5
    max_side: int = 512
    features: int = 500
    ratio: float = 0.8
    min_inliers: int = 12
    min_inlier_ratio: float = 0.1
    min_detail_correlation: float = 0.9
    max_chroma_difference: float = 16.0
    max_rotation: float = 10.0
    min_scale: float = 0.25
    max_scale: float = 4.0

    def check(self) -> VerifyParams:
        """Validate every field; raise ``InvalidParameter`` naming the first bad one."""
        for name, low, high in (("neighbours", 1, 1000), ("max_side", 32, 8192), ("features", 16, 20000), ("min_inliers", 3, 100000)):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or not low <= value <= high:
                raise InvalidParameter(f"verify {name} must be an integer in {low}..{high}, got {value!r}")
        for name, low, high in (("min_candidate_similarity", -1.0, 1.0), ("ratio", 0.01, 1.0), ("min_inlier_ratio", 0.0, 1.0),
                                ("min_detail_correlation", -1.0, 1.0), ("max_chroma_difference", 0.0, 255.0), ("max_rotation", 0.0, 180.0), ("min_scale", 1e-3, 1.0),
                                ("max_scale", 1.0, 1e3)):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or math.isnan(value) or not low <= value <= high:
                raise InvalidParameter(f"verify {name} must be a number in [{low}, {high}], got {value!r}")
        return self


@dataclass
class PictureFeatures:
    """What verification keeps of one picture.

    Attributes:
        points: (n, 2) float32 keypoint positions, in ``scale`` x original pixels.
        descriptors: (n, 32) uint8 ORB descriptors.
        mirrored_points, mirrored_descriptors: the same for the picture flipped left to right (or None).
        detail: the grey picture at most ``DETAIL_SIDE`` pixels a side (uint8).
        scale: feature pixels per original pixel.
        detail_ratio: (x, y) detail pixels per feature pixel.
        chroma: the Lab a and b planes at most ``CHROMA_SIDE`` pixels a side (uint8).
        chroma_ratio: (x, y) chroma pixels per feature pixel.
    """

    points: np.ndarray
    descriptors: np.ndarray
    mirrored_points: np.ndarray | None
    mirrored_descriptors: np.ndarray | None
    detail: np.ndarray
    scale: float
    detail_ratio: tuple[float, float]
    chroma: np.ndarray
    chroma_ratio: tuple[float, float]


@dataclass
class VerifiedPairs:
    """Candidate pairs that passed: rows a, b (as given), score (aligned detail correlation), inliers, mirrored."""

    a: np.ndarray
    b: np.ndarray
    score: np.ndarray
    inliers: np.ndarray
    mirrored: np.ndarray

    def __len__(self) -> int:
        return len(self.a)

    @classmethod
    def empty(cls) -> VerifiedPairs:
        return cls(np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0, np.float64), np.zeros(0, np.int64), np.zeros(0, bool))


def _orb(grey: np.ndarray, params: VerifyParams) -> tuple[np.ndarray, np.ndarray]:
    import cv2

    # Small patches and a low FAST threshold: product shots are small and their texture is fine.
    orb = cv2.ORB_create(nfeatures=int(params.features), fastThreshold=10, edgeThreshold=15, patchSize=15)
    keypoints, descriptors = orb.detectAndCompute(grey, None)
    if len(keypoints) < params.features // 2:
        # Smooth pictures (leather, silk) have few corners at that threshold: look for fainter ones.
        orb.setFastThreshold(3)
        keypoints, descriptors = orb.detectAndCompute(grey, None)
    if descriptors is None or not keypoints:
        return np.zeros((0, 2), np.float32), np.zeros((0, 32), np.uint8)
    return np.array([k.pt for k in keypoints], np.float32).reshape(-1, 2), descriptors


def picture_features(image: np.ndarray, params: VerifyParams | None = None, *, mirrored: bool = True) -> PictureFeatures:
    """ORB features of one RGB (or grey) picture at a bounded size, and of its mirror image when ``mirrored``."""
    import cv2

    params = params or VerifyParams()
    if image.ndim == 3 and image.shape[2] == 3:
        grey = cv2.cvtColor(np.ascontiguousarray(image), cv2.COLOR_RGB2GRAY)
    elif image.ndim == 2:
        grey = np.ascontiguousarray(image)
    else:
        raise InvalidParameter(f"expected an (H, W, 3) RGB or (H, W) grey picture, got shape {image.shape}")
    if grey.size == 0:
        raise InvalidParameter("cannot verify an empty picture")
    height, width = grey.shape
    scale = min(1.0, params.max_side / max(height, width))
    if scale < 1.0:
        grey = cv2.resize(grey, (max(1, round(width * scale)), max(1, round(height * scale))), interpolation=cv2.INTER_AREA)
    points, descriptors = _orb(grey, params)
    m_points = m_descriptors = None
    if mirrored:
        m_points, m_descriptors = _orb(np.ascontiguousarray(grey[:, ::-1]), params)
    detail_scale = min(1.0, DETAIL_SIDE / max(height, width))
    detail = cv2.resize(grey, (max(1, round(width * detail_scale)), max(1, round(height * detail_scale))), interpolation=cv2.INTER_AREA)
    ratio = (detail.shape[1] / grey.shape[1], detail.shape[0] / grey.shape[0])
    colour = image if image.ndim == 3 else np.repeat(image[:, :, None], 3, axis=2)
    chroma_scale = min(1.0, CHROMA_SIDE / max(height, width))
    small = cv2.resize(np.ascontiguousarray(colour), (max(1, round(width * chroma_scale)), max(1, round(height * chroma_scale))),
                       interpolation=cv2.INTER_AREA)
    chroma = np.ascontiguousarray(cv2.cvtColor(small, cv2.COLOR_RGB2LAB)[:, :, 1:])
    chroma_ratio = (chroma.shape[1] / grey.shape[1], chroma.shape[0] / grey.shape[0])
    return PictureFeatures(points, descriptors, m_points, m_descriptors, detail, scale, ratio, chroma, chroma_ratio)


def _band_pass(grey: np.ndarray) -> np.ndarray:
    import cv2

    picture = grey.astype(np.float32)
    return cv2.GaussianBlur(picture, (0, 0), 0.7) - cv2.GaussianBlur(picture, (0, 0), 2.0)


def _detail_correlation(a: np.ndarray, b: np.ndarray, transform: np.ndarray) -> float:
    """Correlation of the band-passed pictures over their overlap; ``transform`` maps a's pixels to b's."""
    import cv2

    scale = float(np.hypot(transform[0, 0], transform[1, 0]))
    if scale >= 1.0:
        # b is sampled finer: bring b into a's frame.
        target, moving, to_target = a, b, cv2.invertAffineTransform(transform)
    else:
        target, moving, to_target = b, a, transform
    size = (target.shape[1], target.shape[0])
    warped = cv2.warpAffine(_band_pass(moving), to_target, size, flags=cv2.INTER_LINEAR, borderValue=0)
    inside = cv2.warpAffine(np.ones(moving.shape, np.uint8), to_target, size, flags=cv2.INTER_NEAREST, borderValue=0)
    inside = cv2.erode(inside, np.ones((5, 5), np.uint8)) > 0
    if inside.sum() < 64:
        return 0.0
    x, y = _band_pass(target)[inside], warped[inside]
    x, y = x - x.mean(), y - y.mean()
    denominator = math.sqrt(float(x @ x) * float(y @ y))
    return float(x @ y) / denominator if denominator > 1e-6 else 0.0


def _match(points_a: np.ndarray, desc_a: np.ndarray, points_b: np.ndarray, desc_b: np.ndarray,
           params: VerifyParams) -> tuple[int, int, np.ndarray | None]:
    """(ratio-test matches, RANSAC inliers, a -> b transform in feature pixels or None)."""
    import cv2

    if len(desc_a) < 2 or len(desc_b) < 2:
        return 0, 0, None
    matches = cv2.BFMatcher(cv2.NORM_HAMMING).knnMatch(desc_a, desc_b, k=2)
    good = [m[0] for m in matches if len(m) == 2 and m[0].distance < params.ratio * m[1].distance]
    if len(good) < max(3, params.min_inliers):
        return len(good), 0, None
    src = points_a[[m.queryIdx for m in good]]
    dst = points_b[[m.trainIdx for m in good]]
    transform, inliers = cv2.estimateAffinePartial2D(src, dst, method=cv2.RANSAC, ransacReprojThreshold=3.0, maxIters=2000, confidence=0.995)
    if transform is None or inliers is None:
        return len(good), 0, None
    return len(good), int(inliers.sum()), transform


def _to_grid(ratio: tuple[float, float]) -> np.ndarray:
    """The 3 x 3 map from feature pixels to a resized grid's pixels (pixel centres kept)."""
    rx, ry = ratio
    return np.array([[rx, 0.0, 0.5 * rx - 0.5], [0.0, ry, 0.5 * ry - 0.5], [0.0, 0.0, 1.0]])


def _in_grid(transform: np.ndarray, ratio_a: tuple[float, float], ratio_b: tuple[float, float]) -> np.ndarray:
    """A feature-pixel transform a -> b as a transform between two resized grids (flipping commutes with it)."""
    return (_to_grid(ratio_b) @ np.vstack([transform, [0.0, 0.0, 1.0]]) @ np.linalg.inv(_to_grid(ratio_a)))[:2]


def _chroma_difference(a: np.ndarray, b: np.ndarray, transform: np.ndarray) -> float:
    """Mean absolute difference of the Lab a, b planes over the overlap; ``transform`` maps a's pixels to b's."""
    import cv2

    size = (a.shape[1], a.shape[0])
    to_a = cv2.invertAffineTransform(transform)
    warped = cv2.warpAffine(b, to_a, size, flags=cv2.INTER_LINEAR, borderValue=0)
    inside = cv2.warpAffine(np.ones(b.shape[:2], np.uint8), to_a, size, flags=cv2.INTER_NEAREST, borderValue=0)
    inside = cv2.erode(inside, np.ones((3, 3), np.uint8)) > 0
    if inside.sum() < 16:
        return float("inf")
    # Per pixel the larger of the a and b differences; the 90th percentile, so that a garment
    # recoloured on a shared white background is not averaged away.
    difference = np.abs(a[inside].astype(np.float32) - warped[inside].astype(np.float32)).max(axis=1)
    return float(np.percentile(difference, 90))


def verify_pair(fa: PictureFeatures, fb: PictureFeatures, params: VerifyParams | None = None, *,
                orientation: int = EITHER) -> tuple[float, int, bool] | None:
    """Whether b shows a (a crop, resize or copy of it, possibly mirrored).

    Returns:
        (aligned detail correlation, inliers, mirrored) when the pair passes, else None.
    """
    params = params or VerifyParams()
    tries = [False, True] if orientation == EITHER else [orientation == MIRRORED]
    for mirrored in tries:
        if mirrored and fb.mirrored_descriptors is None:
            continue
        points_b = fb.mirrored_points if mirrored else fb.points
        desc_b = fb.mirrored_descriptors if mirrored else fb.descriptors
        good, inliers, transform = _match(fa.points, fa.descriptors, points_b, desc_b, params)
        if transform is None or inliers < params.min_inliers or inliers < params.min_inlier_ratio * good:
            continue
        scale = float(np.hypot(transform[0, 0], transform[1, 0]))
        rotation = abs(math.degrees(math.atan2(transform[1, 0], transform[0, 0])))
        # The transform in original pixels (feature scales differ when pictures were shrunk).
        size_ratio = scale * fa.scale / fb.scale
        if not params.min_scale <= size_ratio <= params.max_scale or rotation > params.max_rotation:
            continue
        detail_b = np.ascontiguousarray(fb.detail[:, ::-1]) if mirrored else fb.detail
        score = _detail_correlation(fa.detail, detail_b, _in_grid(transform, fa.detail_ratio, fb.detail_ratio))
        if score < params.min_detail_correlation:
            continue
        chroma_b = np.ascontiguousarray(fb.chroma[:, ::-1]) if mirrored else fb.chroma
        if _chroma_difference(fa.chroma, chroma_b, _in_grid(transform, fa.chroma_ratio, fb.chroma_ratio)) <= params.max_chroma_difference:
            return score, inliers, mirrored
    return None


def _workers() -> int:
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not Linux
        return max(1, os.cpu_count() or 1)


def verify_pairs(
    source: Any,
    images: Sequence[str],
    a: np.ndarray,
    b: np.ndarray,
    *,
    orientation: np.ndarray | None = None,
    params: VerifyParams | None = None,
    max_pixels: int = DEFAULT_MAX_PIXELS,
    max_workers: int = 8,
) -> tuple[VerifiedPairs, pd.DataFrame]:
    """Verify candidate pairs of pictures; features are computed once per picture, in threads.

    Args:
        source: where the pictures are (an ``ImageSource`` or image store).
        images: picture names; ``a`` and ``b`` index this list.
        a, b: the candidate pairs.
        orientation: per pair ``DIRECT``, ``MIRRORED`` or ``EITHER`` (default: ``EITHER``).
        params: thresholds and feature settings.
        max_pixels: pictures larger than this are refused.
        max_workers: reading threads.

    Returns:
        The pairs that passed, and the pictures that could not be read (row: the index in
        ``images``, image, reason): their pairs are not verified, nothing is raised.
    """
    from street2shop.images.load import load_images
    from street2shop.storage.stores import ordered_map

    params = (params or VerifyParams()).check()
    a, b = np.asarray(a, np.int64), np.asarray(b, np.int64)
    orientation = np.full(len(a), EITHER, np.int64) if orientation is None else np.asarray(orientation, np.int64)
    if len(b) != len(a) or len(orientation) != len(a):
        raise InvalidParameter(f"verify_pairs: {len(a)} a rows, {len(b)} b rows, {len(orientation)} orientations")
    images = list(images)
    if not len(a):
        return VerifiedPairs.empty(), pd.DataFrame(columns=["row", "image", "reason"]).astype({"row": "int64"})
    needed = np.unique(np.concatenate([a, b]))
    mirrored_needed = set(np.unique(b[orientation != DIRECT]).tolist())
    features: dict[int, PictureFeatures] = {}
    failed: list[tuple[int, str, str]] = []

    # load_images takes one transform: features, with the mirror image only where some pair needs it.
    plain = [int(r) for r in needed if int(r) not in mirrored_needed]
    mirror = [int(r) for r in needed if int(r) in mirrored_needed]
    with Progress(len(needed), "verification features", logger=logger) as progress:
        for rows, want in ((plain, False), (mirror, True)):
            if not rows:
                continue
            loaded = load_images(source, [images[r] for r in rows], rows=rows, max_pixels=max_pixels, max_workers=max_workers,
                                 transform=lambda pixels, want=want: picture_features(pixels, params, mirrored=want))
            for item in loaded:
                if item.error is None:
                    features[item.row] = item.pixels
                else:
                    failed.append((item.row, item.image, item.error))
                progress.update()
    chunk = 64
    starts = list(range(0, len(a), chunk))

    def run(start: int) -> list[tuple[int, float, int, bool]]:
        out = []
        for k in range(start, min(start + chunk, len(a))):
            fa, fb = features.get(int(a[k])), features.get(int(b[k]))
            if fa is None or fb is None:
                continue
            verdict = verify_pair(fa, fb, params, orientation=int(orientation[k]))
            if verdict is not None:
                out.append((k, *verdict))
        return out

    passed: list[tuple[int, float, int, bool]] = []
    with Progress(len(a), "verifying pairs", logger=logger) as progress:
        for index, found in ordered_map(run, starts, max_workers=_workers()):
            passed.extend(found)
            progress.update(min(chunk, len(a) - starts[index]))
    errors = pd.DataFrame(failed, columns=["row", "image", "reason"]).astype({"row": "int64"})
    if failed:
        logger.warning("%d picture(s) could not be read for verification (first: %s: %s)", len(failed), failed[0][1], failed[0][2])
    if not passed:
        return VerifiedPairs.empty(), errors
    keys = np.array([p[0] for p in passed], np.int64)
    logger.info("geometric verification: %d of %d candidate pairs passed", len(passed), len(a))
    return VerifiedPairs(
        a[keys], b[keys], np.array([p[1] for p in passed], np.float64), np.array([p[2] for p in passed], np.int64),
        np.array([p[3] for p in passed], bool),
    ), errors
