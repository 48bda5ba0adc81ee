"""Fabric and pattern maps for the demo's drawn garments, and the noise and pixel helpers they share with
the street scenes: plain arrays in, arrays out (nothing here knows what a garment is)."""

from __future__ import annotations

import functools
import math

import cv2
import numpy as np


def smooth_noise(size: int, cells: int, rng: np.random.Generator) -> np.ndarray:
    """Noise in [0, 1] that varies over about ``cells`` blobs across the picture."""
    grid = rng.random((cells + 1, cells + 1), dtype=np.float32)
    return np.clip(cv2.resize(grid, (size, size), interpolation=cv2.INTER_CUBIC), 0.0, 1.0)


def fine_noise(shape: tuple[int, ...], rng: np.random.Generator) -> np.ndarray:
    """Zero-mean, unit-variance pixel noise (uniform: drawn from bytes, several times faster than normal)."""
    raw = np.frombuffer(rng.bytes(math.prod(shape)), np.uint8).reshape(shape)
    return (raw.astype(np.float32) - 127.5) * np.float32(1 / 73.9)


def frac(values: np.ndarray) -> np.ndarray:
    """The fractional part (NumPy's float ``%`` is much slower)."""
    return values - np.floor(values)


@functools.lru_cache(maxsize=4)
def grid(size: int) -> tuple[np.ndarray, np.ndarray]:
    """Row and column coordinates of every pixel (shared, read-only)."""
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32)
    yy.flags.writeable = False
    xx.flags.writeable = False
    return yy, xx


def material_texture(
    material: str, garment_type: str, size: int, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """A multiplicative brightness map and an additive highlight map for a garment's (first) material."""
    yy, xx = grid(size)
    fine = fine_noise((size, size), rng)
    add = np.zeros((size, size), np.float32)
    px = max(size / 256.0, 1.0)  # texture features keep their size in pixels roughly constant across sizes
    if garment_type == "jeans" or material == "other":  # denim: a twill with vertical streaks
        twill = np.sin((xx + yy) * np.float32(2 * np.pi / (3.6 * px)))
        streaks = cv2.blur(fine, (1, 15))
        mult = 1.0 + 0.07 * twill + 0.25 * streaks + 0.22 * (smooth_noise(size, 3, rng) - 0.5)
    elif material in ("wool", "cashmere"):  # knit: columns of chevron stitches
        col = xx * np.float32(1 / (4.5 * px))
        chevron = np.abs(frac(col) - 0.5)
        knit = np.sin(np.float32(2 * np.pi) * (yy * np.float32(1 / (3.8 * px)) + chevron * 1.3))
        ribs = np.cos(np.float32(2 * np.pi) * col)
        amp = 0.1 if material == "wool" else 0.06
        mult = 1.0 + amp * (0.65 * knit + 0.35 * ribs) + 0.025 * fine
        if material == "cashmere":
            mult = cv2.GaussianBlur(mult, (0, 0), 0.8) + 0.03 * cv2.GaussianBlur(fine, (0, 0), 0.6)
    elif material == "leather":  # smooth grain, glossy patches
        mult = 0.9 + 0.16 * smooth_noise(size, 7, rng) + 0.02 * cv2.GaussianBlur(fine, (0, 0), 0.7)
        gloss = np.clip((smooth_noise(size, 4, rng) - 0.55) * np.float32(1 / 0.45), 0.0, 1.0)
        add = 0.45 * gloss * gloss
    elif material in ("silk", "viscose", "polyester", "polyamide", "elastane"):  # flowing sheen bands
        strength = {"silk": 0.3, "viscose": 0.16, "polyester": 0.1, "polyamide": 0.18, "elastane": 0.14}[material]
        angle = rng.uniform(0, np.pi)
        warp = 5.0 * smooth_noise(size, 3, rng)
        period = np.float32(2 * np.pi / (size / 3.5))
        bands = np.sin((xx * np.float32(np.cos(angle)) + yy * np.float32(np.sin(angle))) * period + warp)
        peak = np.clip(bands, 0.0, 1.0)
        peak = peak * peak * peak
        add = strength * peak * peak
        mult = 0.98 + 0.04 * bands + 0.012 * fine
    elif material == "linen":  # irregular slubby threads both ways
        slubs = cv2.blur(fine, (9, 1)) + cv2.blur(fine, (1, 9))
        mult = 1.0 + 0.25 * slubs + 0.04 * cv2.GaussianBlur(fine, (0, 0), 0.6)
    else:  # cotton: a fine plain weave
        mult = 1.0 + 0.04 * _weave(size) + 0.05 * cv2.GaussianBlur(fine, (0, 0), 0.7)
    return mult.astype(np.float32, copy=False), add


@functools.lru_cache(maxsize=4)
def _weave(size: int) -> np.ndarray:
    """A one-pixel checkerboard of -0.5 and 0.5 (shared, read-only)."""
    index = np.add.outer(np.arange(size), np.arange(size)) % 2
    weave = index.astype(np.float32) - 0.5
    weave.flags.writeable = False
    return weave


def pattern_alpha(pattern: str, pattern_scale: float, pattern_angle: float, size: int) -> np.ndarray | None:
    """Where the pattern colour shows, in [0, 1], or None for plain and colourblock garments."""
    if pattern in ("plain", "colourblock"):
        return None
    yy, xx = grid(size)
    angle = math.radians(pattern_angle)
    inverse_period = np.float32(12.0 / (pattern_scale * size))
    c = size / 2
    cos, sin = np.float32(math.cos(angle) * inverse_period), np.float32(math.sin(angle) * inverse_period)
    u = (xx - c) * cos + (yy - c) * sin  # in periods
    v = (yy - c) * cos - (xx - c) * sin
    if pattern == "stripes":
        alpha = (frac(v) < 0.42).astype(np.float32)
    elif pattern == "dots":
        row = np.floor(v)
        uu = frac(u + 0.5 * (row - 2 * np.floor(row / 2))) - 0.5
        vv = v - row - 0.5
        alpha = (uu * uu + vv * vv < 0.28**2).astype(np.float32)
    else:  # checks: a simple tartan, bands crossing
        alpha = np.clip(0.6 * (frac(u) < 0.36) + 0.6 * (frac(v) < 0.36), 0.0, 1.0).astype(np.float32)
    return cv2.GaussianBlur(alpha, (0, 0), 0.6)


def tone(rgb: np.ndarray, amount: float = 0.3) -> np.ndarray:
    """A visibly different shade of the same colour: darker for light colours, lighter for dark ones."""
    luminance = float(rgb @ np.array([0.299, 0.587, 0.114]))
    if luminance > 110:
        return rgb * (1.0 - amount)
    return rgb + (255.0 - rgb) * amount * 0.8


def interleave(planes: np.ndarray) -> np.ndarray:
    """Planar (3, H, W) float values to an (H, W, 3) uint8 picture, rounded and clipped."""
    clipped = np.clip(planes + 0.5, 0, 255).astype(np.uint8)
    return cv2.merge(list(clipped))
