"""Garment pictures for segmentation tests: a t-shirt mask, painted garments on clutter, IoU, and a tiny red-garment mask model."""

from __future__ import annotations

import cv2
import numpy as np

# A t-shirt outline, in units of the picture's shorter side, around (0, 0).
TSHIRT = np.array(
    [[-0.2, -0.35], [-0.05, -0.38], [0.05, -0.38], [0.2, -0.35], [0.38, -0.15], [0.3, -0.05], [0.2, -0.15],
     [0.2, 0.38], [-0.2, 0.38], [-0.2, -0.15], [-0.3, -0.05], [-0.38, -0.15]]
)


def garment_mask(height: int, width: int, *, centre: tuple[float, float] = (0.5, 0.5), scale: float = 1.0) -> np.ndarray:
    """A t-shirt mask (0/255) centred at ``centre`` (fractions of width, height)."""
    mask = np.zeros((height, width), np.uint8)
    points = TSHIRT * scale * min(height, width) + [centre[0] * width, centre[1] * height]
    cv2.fillPoly(mask, [points.astype(np.int32)], 255)
    return mask


def paint(background: np.ndarray, mask: np.ndarray, colour: tuple[int, int, int], seed: int = 0) -> np.ndarray:
    """Paint a lightly textured garment of ``colour`` over ``background`` where ``mask`` is set."""
    rng = np.random.default_rng(seed)
    cloth = np.clip(np.array(colour) + rng.normal(0, 6, background.shape), 0, 255).astype(np.uint8)
    picture = background.copy()
    picture[mask > 0] = cloth[mask > 0]
    return picture


def clutter(height: int, width: int, seed: int = 0, palette: list[tuple[int, int, int]] | None = None) -> np.ndarray:
    """A busy background of random rectangles and discs."""
    rng = np.random.default_rng(seed)
    picture = np.full((height, width, 3), (120, 110, 100), np.uint8)
    for _ in range(40):
        colour = palette[rng.integers(len(palette))] if palette else tuple(int(v) for v in rng.integers(0, 255, 3))
        x, y = int(rng.integers(0, width)), int(rng.integers(0, height))
        if rng.random() < 0.5:
            size = (int(rng.integers(10, width // 3)), int(rng.integers(10, height // 3)))
            cv2.rectangle(picture, (x, y), (x + size[0], y + size[1]), colour, -1)
        else:
            cv2.circle(picture, (x, y), int(rng.integers(5, width // 6)), colour, -1)
    return picture


def iou(a: np.ndarray, b: np.ndarray) -> float:
    a, b = a > 0, b > 0
    return float((a & b).sum() / max(1, (a | b).sum()))


def white(height: int, width: int) -> np.ndarray:
    return np.full((height, width, 3), 255, np.uint8)


def build_red_model(input_size: int | None = 64, pool: bool = False):
    """A tiny 'garment segmenter' that marks saturated red pixels: RGB 0-255 in, probability out."""
    import keras

    inputs = keras.Input(shape=(input_size, input_size, 3))
    x = keras.layers.Rescaling(1.0 / 255.0)(inputs)
    if pool:
        x = keras.layers.AveragePooling2D(2)(x)
    conv = keras.layers.Conv2D(1, 1, activation="sigmoid")
    outputs = conv(x)
    model = keras.Model(inputs, outputs)
    conv.set_weights([np.array([20.0, -20.0, -20.0], np.float32).reshape(1, 1, 3, 1), np.array([-8.0], np.float32)])
    return model


def red_on_clutter(height: int = 240, width: int = 300):
    truth = garment_mask(height, width, centre=(0.35, 0.45), scale=0.7)
    background = clutter(height, width, seed=3, palette=[(30, 160, 40), (240, 230, 60), (40, 40, 40), (60, 90, 200)])
    return paint(background, truth, (220, 20, 30)), truth
