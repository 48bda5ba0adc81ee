"""Garment descriptors with no training: colour, texture and shape of the garment, as a Keras encoder.

The encoder is an ordinary :class:`~street2shop.models.encoder.Encoder` (uint8 ``(S, S, 3)`` pictures
to a vector) built from registered layers (:mod:`street2shop.models.layers`) whose only weights are fixed, non-trainable
parameters, so it is saved, bundled in an index, fingerprinted and loaded with ``safe_mode``
like a trained model, and runs in the same ``tf.data`` pipeline (on a GPU too).

Where the garment is: with segmentation on, pictures arrive cut out on pure white
(:func:`street2shop.segmentation.garment.segment_and_crop`, padded white by ``fit_to_square``), so the
garment is the pixels that are not near-white. When almost nothing is near-white (a photo not
segmented) or almost everything is (a white garment on white), a centred Gaussian prior takes
the mask's place. Limitation: white and very light garments on white lose their near-white
parts (white stripes on a blue shirt are not counted) and a wholly white garment falls back to
the prior, so its shape block says nothing.

Parts (each a list of sub-blocks, each sub-block L2-normalised and weighted):

* ``colour``: a soft joint HSV histogram (12 hues x 3 values x 2 saturations for chromatic
  pixels, 6 grey levels for achromatic ones), square-rooted; the garment's two dominant colours
  (two-means in CIE Lab) as a Gaussian-kernel palette over a grid of Lab prototypes.
* ``texture``: histograms of gradient orientation (8 bins, magnitude-weighted) at two scales,
  edge density, and rotation-invariant uniform LBP codes (riu2) at the same two scales, inside
  the eroded mask (so the garment's outline counts as shape, not texture).
* ``shape``: the mask's occupancy on an 8x8 grid (mirror-symmetrised), aspect ratio from its
  second moments, area share and compactness (perimeter^2 / area), scalars soft-binned so that
  the inner product compares them.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping, Sequence
from typing import Any

from street2shop.errors import InvalidParameter
from street2shop.models.encoder import make_encoder
from street2shop.models.layers import L2_NORMALIZE_LAYER, register_layers

logger = logging.getLogger(__name__)

#: Bumped whenever a layer's computation changes: it is a weight, so it changes the fingerprint.
DESCRIPTOR_VERSION = 1
PARTS = ("colour", "texture", "shape")
DEFAULT_SIZE = 128
#: Each part's weight inside a combined descriptor encoder (fit with ``street2shop fit-weights``
#: on separate part encoders to choose others).
DEFAULT_PART_WEIGHTS = {"colour": 1.0, "texture": 0.5, "shape": 0.7}

#: Sub-block weights inside each part, in output order.
SUB_BLOCKS = {
    "colour": (("hsv_histogram", 1.0), ("dominant_colours", 0.7)),
    "texture": (
        ("orientation_fine", 0.6), ("orientation_coarse", 0.6), ("edge_density", 0.4),
        ("lbp_fine", 0.7), ("lbp_coarse", 0.7),
    ),
    "shape": (("occupancy_grid", 1.0), ("aspect", 0.6), ("area", 0.4), ("compactness", 0.5)),
}

_PART_LAYERS = {"colour": "ColourDescriptor", "texture": "TextureDescriptor", "shape": "ShapeDescriptor"}


def build_descriptor_model(
    size: int = DEFAULT_SIZE,
    parts: Sequence[str] = PARTS,
    *,
    part_weights: Mapping[str, float] | None = None,
    white_threshold: tuple[float, float] = (0.04, 0.10),
    prior_range: tuple[float, float] = (0.02, 0.97),
    prior_sigma: float = 0.3,
):
    """A Keras model: uint8 RGB ``(size, size, 3)`` -> L2-normalised garment descriptor.

    Args:
        size: input side in pixels, a multiple of 16 (the parts work on 2x and 4x reductions).
        parts: which of ``colour``, ``texture``, ``shape`` to describe, in output order.
        part_weights: each part's weight (default :data:`DEFAULT_PART_WEIGHTS`).
        white_threshold: distance from white (``1 - min(R, G, B)``, in [0, 1]) where the soft
            garment mask starts and where it reaches 1.
        prior_range: the centre prior replaces the mask when the mask covers less than the first
            or more than the second share of the picture.
        prior_sigma: the prior's Gaussian sigma, as a fraction of the picture's side.

    Raises:
        InvalidParameter: a bad size, part, weight or threshold.
    """
    import keras

    parts = _check_parts(parts)
    weights = _part_weights(parts, part_weights)
    if isinstance(size, bool) or not isinstance(size, int) or not 32 <= size <= 1024 or size % 16:
        raise InvalidParameter(f"descriptor size must be a multiple of 16 in [32, 1024] pixels, got {size!r}")
    low, high = (float(v) for v in white_threshold)
    if not 0.0 <= low < high <= 1.0:
        raise InvalidParameter(f"white_threshold must be (start, end) with 0 <= start < end <= 1, got {white_threshold}")
    min_share, max_share = (float(v) for v in prior_range)
    if not 0.0 <= min_share < max_share <= 1.0:
        raise InvalidParameter(f"prior_range must be (min, max) shares with 0 <= min < max <= 1, got {prior_range}")
    if not 0.05 <= float(prior_sigma) <= 2.0:
        raise InvalidParameter(f"prior_sigma must be in [0.05, 2], got {prior_sigma}")
    layers = register_layers()
    inputs = keras.Input((size, size, 3), dtype="uint8", name="image")
    masked = layers["GarmentMask"](
        params=(DESCRIPTOR_VERSION, low, high, min_share, max_share, float(prior_sigma)), name="garment_mask"
    )(inputs)
    outputs = [
        layers[_PART_LAYERS[part]](params=[w for _, w in SUB_BLOCKS[part]], name=f"{part}_descriptor")(masked)
        for part in parts
    ]
    fused = layers["WeightedParts"](params=[weights[part] for part in parts], name="weighted_parts")(outputs)
    normalised = layers["L2Normalize"](name=L2_NORMALIZE_LAYER)(fused)
    return keras.Model(inputs, normalised, name="garment_descriptors")


def descriptor_encoder(
    size: int = DEFAULT_SIZE,
    parts: Sequence[str] = PARTS,
    *,
    name: str | None = None,
    part_weights: Mapping[str, float] | None = None,
    **options: Any,
):
    """The descriptor model wrapped as an :class:`~street2shop.models.encoder.Encoder` (save it with ``save_encoder``).

    Args:
        name: the encoder's name (default ``descriptors`` for all parts, else ``descriptors-<parts>``).
        options: more :func:`build_descriptor_model` settings.
    """
    parts = _check_parts(parts)
    weights = _part_weights(parts, part_weights)
    model = build_descriptor_model(size, parts, part_weights=weights, **options)
    default_name = "descriptors" if tuple(parts) == PARTS else "descriptors-" + "-".join(parts)
    info = {
        "kind": "descriptors",
        "descriptor_version": DESCRIPTOR_VERSION,
        "parts": list(parts),
        "part_weights": weights,
        "part_dims": {part: int(model.get_layer(f"{part}_descriptor").output.shape[-1]) for part in parts},
        "mask": "non-white pixels (cut-out on white); centre prior when almost none or almost all are",
    }
    return make_encoder(name or default_name, model, info)


def _check_parts(parts: Sequence[str]) -> tuple[str, ...]:
    if isinstance(parts, str):
        parts = [p.strip() for p in parts.split(",") if p.strip()]
    chosen = tuple(str(p).lower() for p in parts)
    unknown = [p for p in chosen if p not in PARTS]
    if unknown or not chosen:
        raise InvalidParameter(f"descriptor parts must be some of {', '.join(PARTS)}; got {', '.join(map(str, parts)) or 'none'}")
    if len(set(chosen)) != len(chosen):
        raise InvalidParameter(f"descriptor parts are repeated: {', '.join(chosen)}")
    return chosen


def _part_weights(parts: Sequence[str], given: Mapping[str, float] | None) -> dict[str, float]:
    given = dict(given or {})
    unknown = sorted(set(given) - set(parts))
    if unknown:
        raise InvalidParameter(f"weights given for parts not built: {', '.join(unknown)}")
    weights = {}
    for part in parts:
        value = given.get(part, DEFAULT_PART_WEIGHTS[part])
        try:
            value = float(value)
        except (TypeError, ValueError) as err:
            raise InvalidParameter(f"weight of part {part!r} must be a number, got {value!r}") from err
        if not value > 0 or math.isinf(value):
            raise InvalidParameter(f"weight of part {part!r} must be positive and finite, got {value}")
        weights[part] = value
    return weights
