"""Consumer-style photos of a drawn garment: cut out, warped over a cluttered scene, partly hidden, badly lit."""

from __future__ import annotations

import math
from collections.abc import Sequence

import cv2
import numpy as np

from street2shop.demo.textures import fine_noise, grid, interleave, smooth_noise
from street2shop.errors import InvalidParameter
from street2shop.images.decode import encode_jpeg


def _muted_colour(rng: np.random.Generator) -> np.ndarray:
    base = rng.uniform(60, 220)
    return np.clip(base + rng.normal(0, 35, 3), 10, 245).astype(np.float32)


def _clutter_background(
    size: int, rng: np.random.Generator, distractors: Sequence[tuple[np.ndarray, np.ndarray]]
) -> np.ndarray:
    """A room-like scene: a gradient or texture, furniture-like shapes and pieces of other garments."""
    yy, xx = grid(size)
    angle = rng.uniform(0, 2 * np.pi)
    ramp = xx * np.float32(math.cos(angle) / (2 * size)) + yy * np.float32(math.sin(angle) / (2 * size))
    ramp -= ramp.min()
    c1, c2 = _muted_colour(rng), _muted_colour(rng)
    planes = c1[:, None, None] + (c2 - c1)[:, None, None] * ramp
    kind = rng.integers(4)
    steps = np.arange(size)
    if kind == 0:  # wooden floor: planks with grain
        plank = max(4, int(size / rng.uniform(5, 10)))
        row_light = rng.uniform(0.8, 1.2, size // plank + 1).astype(np.float32)[steps // plank]
        row_light[steps % plank < 2] *= 0.7
        grain = cv2.blur(fine_noise((size, size), rng), (25, 1))
        planes *= row_light[:, None] * (1.0 + 0.3 * grain)
    elif kind == 1:  # tiles
        tile = max(6, int(size / rng.uniform(3, 7)))
        line = steps % tile < 2
        planes = np.where(line[:, None] | line[None, :], planes * 0.55 + 100, planes)
    elif kind == 2:  # a printed fabric (bedspread, sofa)
        planes *= 0.7 + 0.6 * smooth_noise(size, int(rng.integers(6, 14)), rng)
    scene = interleave(planes)
    for _ in range(int(rng.integers(3, 9))):
        colour = tuple(float(c) for c in _muted_colour(rng))
        x0, y0 = (int(v) for v in rng.integers(-size // 4, size, 2))
        w, h = (int(v) for v in rng.integers(size // 10, size // 2, 2))
        shape = rng.integers(3)
        if shape == 0:
            cv2.rectangle(scene, (x0, y0), (x0 + w, y0 + h), colour, -1, cv2.LINE_AA)
        elif shape == 1:
            cv2.circle(scene, (x0, y0), w // 2, colour, -1, cv2.LINE_AA)
        else:
            cv2.line(scene, (x0, y0), (x0 + w, y0 + h), colour, max(2, size // 40), cv2.LINE_AA)
    for _ in range(int(rng.integers(0, 3)) if distractors else 0):
        other_rgb, other_mask = distractors[int(rng.integers(len(distractors)))]
        scene = _paste(scene, other_rgb, other_mask, rng, scale=rng.uniform(0.35, 0.7))
    sigma = rng.uniform(0.0, 2.0)
    if sigma > 0.3:  # the background is out of focus
        scene = cv2.GaussianBlur(scene, (0, 0), sigma)
    return scene


def _paste(
    scene: np.ndarray, rgb: np.ndarray, mask: np.ndarray, rng: np.random.Generator, *, scale: float
) -> np.ndarray:
    """Paste a rotated, scaled garment cut-out near a border of the scene, partly out of frame."""
    size = scene.shape[0]
    h, w = mask.shape
    along, depth = rng.uniform(0, size), rng.uniform(-0.1, 0.15) * size
    centre = [(depth, along), (size - depth, along), (along, depth), (along, size - depth)][int(rng.integers(4))]
    matrix = cv2.getRotationMatrix2D((w / 2, h / 2), float(rng.uniform(-60, 60)), scale * size / max(h, w))
    matrix[:, 2] += np.asarray(centre) - np.array([w / 2, h / 2])
    warped = cv2.warpAffine(rgb, matrix, (size, size), flags=cv2.INTER_LINEAR, borderValue=(255, 255, 255))
    alpha = cv2.warpAffine(mask.astype(np.float32) * np.float32(1 / 255), matrix, (size, size), flags=cv2.INTER_LINEAR)
    return cv2.blendLinear(scene, warped, 1.0 - alpha, alpha)


def _occluder(size: int, target: tuple[float, float], rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """A hand and arm, a bag or a round object over ``target``: its picture and its 0/1 mask."""
    mask = np.zeros((size, size), np.uint8)
    tx, ty = (int(round(v)) for v in target)
    kind = rng.integers(3)
    if kind == 0:  # a hand holding the garment, the arm coming from the nearest border
        colour = np.array([rng.uniform(150, 240), rng.uniform(105, 185), rng.uniform(80, 150)], np.float32)
        borders = [(tx, -size // 5), (tx, size + size // 5), (-size // 5, ty), (size + size // 5, ty)]
        bx, by = borders[int(np.argmin([ty, size - ty, tx, size - tx]))]
        arm = max(3, int(size * rng.uniform(0.08, 0.13)))
        cv2.line(mask, (bx, by), (tx, ty), 1, arm, cv2.LINE_8)
        cv2.ellipse(mask, (tx, ty), (int(arm * 0.9), int(arm * 0.7)), float(rng.uniform(0, 180)), 0, 360, 1, -1)
    elif kind == 1:  # a bag or a box
        w, h = (float(v) for v in rng.uniform(0.15, 0.3, 2) * size)
        box = cv2.boxPoints(((tx, ty), (w, h), float(rng.uniform(-30, 30)))).astype(np.int32)
        cv2.fillPoly(mask, [box], 1)
        colour = _muted_colour(rng)
    else:  # a cup, a plate
        cv2.circle(mask, (tx, ty), int(size * rng.uniform(0.07, 0.14)), 1, -1)
        colour = _muted_colour(rng)
    light = 0.8 + 0.35 * smooth_noise(size, 3, rng)
    return interleave(colour[:, None, None] * light), mask


def make_street_photo(
    garment_rgb: np.ndarray,
    garment_mask: np.ndarray,
    rng: np.random.Generator | int | None = None,
    *,
    size: int | None = None,
    distractors: Sequence[tuple[np.ndarray, np.ndarray]] = (),
    occlusion_probability: float = 0.6,
    jpeg_quality: tuple[int, int] | None = (30, 75),
) -> tuple[np.ndarray, np.ndarray]:
    """Turn a product shot into a consumer-style photo of the same garment, with its mask.

    The garment is cut out with its mask, scaled, rotated and seen in perspective over a cluttered
    scene (gradients, floors, tiles, furniture-like shapes, other garments), partly hidden by a hand
    or an object, then the whole photo gets a white-balance and lighting change, blur, noise and
    (optionally) a low-quality JPEG round trip. The mask follows the same geometry and loses
    the hidden part.

    Args:
        garment_rgb: ``(H, W, 3)`` uint8 RGB product shot.
        garment_mask: ``(H, W)`` uint8 mask, non-zero on the garment.
        rng: the randomness (a Generator or a seed).
        size: side of the square output; defaults to the longer side of the input.
        distractors: ``(rgb, mask)`` cut-outs of other garments to scatter in the background.
        occlusion_probability: chance that something hides part of the garment.
        jpeg_quality: range of JPEG qualities for a round trip, or None for none.

    Returns:
        ``(rgb, mask)``: the photo (uint8 RGB) and its mask (uint8, 255 = visible garment).
    """
    if garment_rgb.ndim != 3 or garment_rgb.shape[2] != 3 or garment_rgb.shape[:2] != garment_mask.shape[:2]:
        raise InvalidParameter("garment_rgb must be HxWx3 and garment_mask HxW of the same size")
    if not np.any(garment_mask):
        raise InvalidParameter("garment_mask is empty")
    rng = np.random.default_rng(rng)
    size = int(size or max(garment_mask.shape))
    scene = _clutter_background(size, rng, distractors)

    ys, xs = np.nonzero(garment_mask)
    cx, cy = (xs.min() + xs.max()) / 2, (ys.min() + ys.max()) / 2
    extent = max(xs.max() - xs.min(), ys.max() - ys.min()) + 1
    scale = rng.uniform(0.6, 1.05) * size / extent
    shift = rng.uniform(-0.1, 0.1, 2) * size
    affine = cv2.getRotationMatrix2D((float(cx), float(cy)), float(rng.uniform(-25, 25)), float(scale))
    affine[:, 2] += np.array([size / 2, size / 2]) + shift - np.array([cx, cy])
    corners = np.array([[0, 0], [size, 0], [size, size], [0, size]], np.float32)
    jitter = rng.normal(0, 0.05 * size, (4, 2)).astype(np.float32)
    homography = cv2.getPerspectiveTransform(corners, corners + jitter) @ np.vstack([affine, [0, 0, 1]])
    warped = cv2.warpPerspective(
        garment_rgb, homography, (size, size), flags=cv2.INTER_LINEAR, borderValue=(255, 255, 255)
    )
    coverage = cv2.warpPerspective(
        (garment_mask > 0).astype(np.float32), homography, (size, size), flags=cv2.INTER_LINEAR
    )
    # A slightly eroded soft alpha hides the product shot's white fringe.
    alpha = np.clip((coverage - 0.25) * 2.0, 0.0, 1.0)
    scene = cv2.blendLinear(scene, warped, 1.0 - alpha, alpha)
    visible = coverage >= 0.5

    if visible.any() and rng.random() < occlusion_probability:
        ys, xs = np.nonzero(visible)
        area = int(np.count_nonzero(visible))
        for _ in range(4):
            pick = int(rng.integers(len(xs)))
            layer, hidden = _occluder(size, (float(xs[pick]), float(ys[pick])), rng)
            kept = visible & (hidden == 0)
            if np.count_nonzero(kept) >= 0.55 * area:
                soft = cv2.GaussianBlur(hidden.astype(np.float32), (0, 0), 0.7)
                scene = cv2.blendLinear(scene, layer, 1.0 - soft, soft)
                visible = kept
                break

    yy, xx = grid(size)
    angle = rng.uniform(0, 2 * np.pi)
    ramp = xx * np.float32(math.cos(angle) / size) + yy * np.float32(math.sin(angle) / size)
    lighting = np.float32(rng.uniform(0.72, 1.15)) * (1.0 + np.float32(rng.uniform(0.0, 0.3)) * (ramp - ramp.mean()))
    if rng.random() < 0.5:  # vignetting
        r2 = ((xx - size / 2) ** 2 + (yy - size / 2) ** 2) * np.float32(4 / size**2)
        lighting *= 1.0 - np.float32(rng.uniform(0.05, 0.18)) * r2
    balance = rng.normal(1.0, 0.07, 3)
    lit = [plane * (lighting * np.float32(gain)) for plane, gain in zip(cv2.split(scene), balance)]
    photo = interleave(np.stack(lit))
    gamma = rng.uniform(0.8, 1.25)
    photo = cv2.LUT(photo, np.clip(255.0 * (np.arange(256) / 255.0) ** gamma + 0.5, 0, 255).astype(np.uint8))
    if rng.random() < 0.2:  # camera shake
        length = int(rng.integers(3, 8))
        kernel = np.zeros((length, length), np.float32)
        kernel[length // 2, :] = 1.0
        rotation = cv2.getRotationMatrix2D((length / 2 - 0.5, length / 2 - 0.5), float(rng.uniform(0, 180)), 1.0)
        kernel = cv2.warpAffine(kernel, rotation, (length, length))
        photo = cv2.filter2D(photo, -1, kernel / max(float(kernel.sum()), 1e-6))
    elif rng.random() < 0.7:
        photo = cv2.GaussianBlur(photo, (0, 0), rng.uniform(0.3, 1.3))
    noisy = photo.astype(np.float32) + fine_noise(photo.shape, rng) * np.float32(rng.uniform(2, 7)) + 0.5
    photo = np.clip(noisy, 0, 255).astype(np.uint8)
    if jpeg_quality is not None:
        quality = int(rng.integers(jpeg_quality[0], jpeg_quality[1] + 1))
        photo = cv2.imdecode(np.frombuffer(encode_jpeg(photo, quality), np.uint8), cv2.IMREAD_COLOR)[:, :, ::-1].copy()
    return photo, np.where(visible, 255, 0).astype(np.uint8)
