"""Training augmentation inside ``tf.data``: rotation, horizontal shift, flip and JPEG quality, each with its own probability."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

from street2shop.errors import InvalidParameter


@dataclass(frozen=True)
class AugmentParams:
    """Per-picture augmentations; each is applied to a picture with its own probability.

    Defaults follow the report: rotation within +-20 degrees (p 0.3), a small horizontal shift
    (up to 10 % of the width, p 0.3), a horizontal flip (p 0.5) and JPEG re-compression at a
    quality drawn in [30, 90] (p 0.4; shoppers' photos are poor).
    """

    rotation_degrees: float = 20.0
    rotation_p: float = 0.3
    shift_fraction: float = 0.1
    shift_p: float = 0.3
    flip_p: float = 0.5
    jpeg_quality_min: int = 30
    jpeg_quality_max: int = 90
    jpeg_p: float = 0.4

    def __post_init__(self) -> None:
        for name in ("rotation_p", "shift_p", "flip_p", "jpeg_p"):
            value = getattr(self, name)
            if not 0.0 <= value <= 1.0:
                raise InvalidParameter(f"augmentation probability {name} must be in [0, 1], got {value}")
        if not 0.0 <= self.rotation_degrees <= 180.0:
            raise InvalidParameter(f"rotation must be within 0..180 degrees, got {self.rotation_degrees}")
        if not 0.0 <= self.shift_fraction < 0.5:
            raise InvalidParameter(f"shift must be a fraction of the width below 0.5, got {self.shift_fraction}")
        if not 1 <= self.jpeg_quality_min <= self.jpeg_quality_max <= 100:
            raise InvalidParameter(
                f"JPEG quality range must satisfy 1 <= min <= max <= 100, got {self.jpeg_quality_min}..{self.jpeg_quality_max}"
            )

    @classmethod
    def off(cls) -> AugmentParams:
        """No augmentation."""
        return cls(rotation_p=0.0, shift_p=0.0, flip_p=0.0, jpeg_p=0.0)

    @property
    def enabled(self) -> bool:
        return any(p > 0 for p in (self.rotation_p, self.shift_p, self.flip_p, self.jpeg_p))

    def describe(self) -> dict[str, Any]:
        return asdict(self)


def augment_image(image: Any, seed: Any, params: AugmentParams) -> Any:
    """Augment one uint8 ``(S, S, 3)`` picture; ``seed`` is a ``(2,)`` int64 tensor (stateless ops, reproducible).

    Rotation and shift are one projective transform, applied only when one of them is drawn
    (bilinear, edges repeated: product shots have a plain background); JPEG re-compression uses
    ``tf.image.adjust_jpeg_quality``.
    """
    import tensorflow as tf

    draws = tf.random.stateless_uniform([7], seed=seed)  # 4 coins, angle, shift, quality
    rotate = draws[0] < params.rotation_p
    shift = draws[1] < params.shift_p
    if params.rotation_p > 0 or params.shift_p > 0:
        height = tf.cast(tf.shape(image)[0], tf.float32)
        width = tf.cast(tf.shape(image)[1], tf.float32)
        angle = tf.where(rotate, (2.0 * draws[4] - 1.0) * (params.rotation_degrees * math.pi / 180.0), 0.0)
        dx = tf.where(shift, (2.0 * draws[5] - 1.0) * params.shift_fraction * width, 0.0)
        image = tf.cond(rotate | shift, lambda: _rotate_shift(image, angle, dx, width, height), lambda: image)
    if params.flip_p > 0:
        image = tf.cond(draws[2] < params.flip_p, lambda: tf.reverse(image, axis=[1]), lambda: image)
    if params.jpeg_p > 0:
        span = params.jpeg_quality_max - params.jpeg_quality_min + 1
        quality = tf.minimum(params.jpeg_quality_min + tf.cast(tf.floor(draws[6] * span), tf.int32), params.jpeg_quality_max)
        image = tf.cond(
            draws[3] < params.jpeg_p,
            lambda: tf.ensure_shape(tf.image.adjust_jpeg_quality(image, quality), image.shape),
            lambda: image,
        )
    return image


def _rotate_shift(image: Any, angle: Any, dx: Any, width: Any, height: Any) -> Any:
    """Rotate by ``angle`` (radians) about the centre, then shift right by ``dx`` pixels."""
    import tensorflow as tf

    cos, sin = tf.cos(angle), tf.sin(angle)
    cx, cy = (width - 1.0) / 2.0, (height - 1.0) / 2.0
    # The transform maps an output pixel to the input pixel it samples: inverse rotation of (out - centre - shift).
    matrix = tf.stack([cos, sin, cx - cos * (cx + dx) - sin * cy, -sin, cos, cy + sin * (cx + dx) - cos * cy, 0.0, 0.0])
    out = tf.raw_ops.ImageProjectiveTransformV3(
        images=image[None],
        transforms=matrix[None],
        output_shape=tf.shape(image)[0:2],
        fill_value=0.0,
        interpolation="BILINEAR",
        fill_mode="NEAREST",
    )
    return tf.ensure_shape(out[0], image.shape)
