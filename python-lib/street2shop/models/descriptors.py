"""Garment descriptors with no training: colour, texture and shape of the garment, as a Keras encoder.

The encoder is an ordinary :class:`~street2shop.models.encoder.Encoder` (uint8 ``(S, S, 3)`` pictures
to a vector) built from registered layers whose only weights are fixed, non-trainable
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

_HUE_BINS, _VALUE_BINS, _SAT_BINS, _GREY_BINS = 12, 3, 2, 6
_LAB_L, _LAB_AB = (10.0, 35.0, 60.0, 85.0), (-60.0, -30.0, 0.0, 30.0, 60.0)
_LAB_SIGMA = 22.0
_SCALAR_BINS = 6
_GRID = 8


def register_descriptor_layers() -> dict[str, Any]:
    """Define (once) and return the descriptor layers, registered for ``safe_mode`` loading.

    :func:`street2shop.models.encoder.load_encoder` must have called this before it loads a
    descriptor encoder (its ``encoder.json`` has ``kind: descriptors``).
    """
    if _LAYERS:
        return _LAYERS
    import keras
    import tensorflow as tf

    class _FixedParams(keras.layers.Layer):
        """A layer whose numeric settings are a non-trainable weight (so they enter the fingerprint)."""

        def __init__(self, params: Sequence[float] = (), **kwargs):
            super().__init__(**kwargs)
            self.params_values = [float(v) for v in params]

        def build(self, input_shape):
            self.fixed = self.add_weight(
                name="fixed_params", shape=(len(self.params_values),), initializer="zeros", trainable=False
            )
            self.fixed.assign(self.params_values)

        def get_config(self):
            return {**super().get_config(), "params": self.params_values}

        def _blocks(self, blocks):
            """Each block L2-normalised and scaled by its fixed weight, concatenated."""
            out = []
            for i, block in enumerate(blocks):
                norm = tf.sqrt(tf.reduce_sum(tf.square(block), axis=-1, keepdims=True))
                out.append(block / tf.maximum(norm, 1e-12) * self.fixed[i])
            return tf.concat(out, axis=-1)

    @keras.saving.register_keras_serializable(package="street2shop")
    class GarmentMask(_FixedParams):
        """uint8 RGB -> float RGB in [0, 1] plus a 4th channel: the garment's soft mask.

        Fixed params: version, near-white start and end (distance from white), the mask shares
        under/over which the centre prior is used instead, and the prior's sigma (picture sides).
        """

        def call(self, inputs):
            rgb = tf.cast(inputs, tf.float32) / 255.0
            _, low, high, min_share, max_share, sigma = tf.unstack(self.fixed)
            distance = 1.0 - tf.reduce_min(rgb, axis=-1)
            mask = tf.clip_by_value((distance - low) / (high - low), 0.0, 1.0)
            share = tf.reduce_mean(mask, axis=[1, 2], keepdims=True)
            side = tf.shape(rgb)[1]
            axis = (tf.cast(tf.range(side), tf.float32) + 0.5) / tf.cast(side, tf.float32) - 0.5
            prior = tf.exp(-(axis[:, None] ** 2 + axis[None, :] ** 2) / (2.0 * sigma**2))[None]
            use_prior = tf.logical_or(share < min_share, share > max_share)
            mask = tf.where(use_prior, prior, mask)
            return tf.concat([rgb, mask[..., None]], axis=-1)

        def compute_output_shape(self, input_shape):
            return (*input_shape[:-1], 4)

    @keras.saving.register_keras_serializable(package="street2shop")
    class ColourDescriptor(_FixedParams):
        """Soft joint hue x value x saturation histogram, and a Lab palette of the two dominant colours, inside the mask."""

        def call(self, inputs):
            half = _pool(inputs, 2)  # colour statistics need no fine detail
            rgb, mask = half[..., :3], half[..., 3]
            batch = tf.shape(rgb)[0]
            r, g, b = tf.unstack(rgb, axis=-1)
            # Opponent axes give hue as an angle and chroma as a length without HSV's branches.
            alpha = r - 0.5 * (g + b)
            beta = 0.8660254 * (g - b)
            hue = tf.math.floormod(tf.atan2(beta, alpha) / (2.0 * math.pi), 1.0)
            chroma_length = tf.sqrt(alpha**2 + beta**2 + 1e-12)
            value = tf.reduce_max(rgb, axis=-1)
            saturation = chroma_length / tf.maximum(value, 1e-3)
            chroma = tf.clip_by_value((chroma_length - 0.07) / 0.1, 0.0, 1.0)
            weight = _flat(mask, batch)
            total = tf.maximum(tf.reduce_sum(weight, axis=1), 1e-6)
            chromatic = _soft_histogram(
                [(_flat(hue, batch) * _HUE_BINS, _HUE_BINS, True),
                 (_flat(value, batch) * (_VALUE_BINS - 1), _VALUE_BINS, False),
                 (_flat(tf.clip_by_value(saturation, 0.0, 1.0), batch) * (_SAT_BINS - 1), _SAT_BINS, False)],
                weight * _flat(chroma, batch),
            )
            grey = _soft_histogram([(_flat(value, batch) * (_GREY_BINS - 1), _GREY_BINS, False)], weight * _flat(1.0 - chroma, batch))
            histogram = tf.concat([chromatic, grey], axis=1) / total[:, None]
            small = _pool(half, 2)
            palette = _dominant_palette(_flat(_rgb_to_lab(small[..., :3]), batch, 3), _flat(small[..., 3], batch))
            return self._blocks([tf.sqrt(tf.maximum(histogram, 0.0)), palette])

        def compute_output_shape(self, input_shape):
            dim = _HUE_BINS * _VALUE_BINS * _SAT_BINS + _GREY_BINS + len(_LAB_L) * len(_LAB_AB) ** 2
            return (input_shape[0], dim)

    @keras.saving.register_keras_serializable(package="street2shop")
    class TextureDescriptor(_FixedParams):
        """Gradient-orientation histograms and edge density at two scales, uniform LBP at two scales, inside the eroded mask."""

        def call(self, inputs):
            grey = tf.reduce_sum(inputs[..., :3] * tf.constant([0.299, 0.587, 0.114]), axis=-1)
            mask = inputs[..., 3]
            coarse = _pool(tf.stack([grey, mask], axis=-1), 2)
            blocks, densities = [], []
            for picture, region in ((grey, mask), (coarse[..., 0], coarse[..., 1])):
                inner = _erode(region)  # the garment's outline is shape, not texture
                histogram, density = _orientation_histogram(picture, inner)
                blocks.append(tf.sqrt(histogram))
                densities.append(_scalar_bins(tf.math.log(density + 1e-3), -5.0, 0.0))
                blocks.append(tf.sqrt(_lbp_histogram(picture, inner)))
            return self._blocks([blocks[0], blocks[2], tf.concat(densities, axis=1), blocks[1], blocks[3]])

        def compute_output_shape(self, input_shape):
            return (input_shape[0], 8 + 8 + 2 * _SCALAR_BINS + 10 + 10)

    @keras.saving.register_keras_serializable(package="street2shop")
    class ShapeDescriptor(_FixedParams):
        """Mask occupancy grid (mirror-symmetrised), aspect from second moments, area share, compactness."""

        def call(self, inputs):
            mask = _pool(inputs[..., 3:4], 2)[..., 0]
            batch = tf.shape(mask)[0]
            side = tf.shape(mask)[1]
            grid = _pool(mask[..., None], int(mask.shape[1]) // _GRID)[..., 0]
            grid = 0.5 * (grid + tf.reverse(grid, axis=[2]))[:, :, : _GRID // 2]
            grid = tf.sqrt(tf.reshape(grid, (batch, -1)))
            total = tf.maximum(tf.reduce_sum(mask, axis=[1, 2]), 1e-6)
            coords = (tf.cast(tf.range(side), tf.float32) + 0.5) / tf.cast(side, tf.float32)
            row_mass = tf.reduce_sum(mask, axis=2)
            col_mass = tf.reduce_sum(mask, axis=1)
            mean_y = tf.reduce_sum(row_mass * coords, axis=1) / total
            mean_x = tf.reduce_sum(col_mass * coords, axis=1) / total
            var_y = tf.reduce_sum(row_mass * (coords - mean_y[:, None]) ** 2, axis=1) / total
            var_x = tf.reduce_sum(col_mass * (coords - mean_x[:, None]) ** 2, axis=1) / total
            aspect = _scalar_bins(0.5 * tf.math.log((var_y + 1e-6) / (var_x + 1e-6)), -1.5, 1.5, bins=7)
            share = total / tf.cast(side * side, tf.float32)
            area = _scalar_bins(tf.sqrt(share), 0.2, 1.0)
            dy = mask[:, 1:, :] - mask[:, :-1, :]
            dx = mask[:, :, 1:] - mask[:, :, :-1]
            perimeter = tf.reduce_sum(tf.abs(dy), axis=[1, 2]) + tf.reduce_sum(tf.abs(dx), axis=[1, 2])
            # 4-connected perimeters overstate a circle's by 4/pi: a disc scores ~log(16/pi) ~ 1.6.
            compactness = _scalar_bins(tf.math.log(perimeter**2 / (4.0 * math.pi * total) + 1e-6), 0.0, 3.0)
            return self._blocks([grid, aspect, area, compactness])

        def compute_output_shape(self, input_shape):
            return (input_shape[0], _GRID * _GRID // 2 + 7 + 2 * _SCALAR_BINS)

    @keras.saving.register_keras_serializable(package="street2shop")
    class WeightedParts(_FixedParams):
        """Concatenate the parts, each L2-normalised and scaled by its fixed weight."""

        def call(self, inputs):
            return self._blocks(list(inputs))

        def compute_output_shape(self, input_shape):
            return (input_shape[0][0], sum(int(shape[-1]) for shape in input_shape))

    def _flat(values, batch, channels: int | None = None):
        return tf.reshape(values, (batch, -1) if channels is None else (batch, -1, channels))

    def _pool(values, factor: int):
        """Average ``factor`` x ``factor`` blocks of ``(B, S, S, C)`` (S a multiple of ``factor``)."""
        return tf.nn.avg_pool2d(values, factor, factor, "VALID")

    def _erode(mask):
        """Minimum over a 5 x 5 neighbourhood (separable static shifts; zero outside the picture)."""
        height, width = int(mask.shape[1]), int(mask.shape[2])
        padded = tf.pad(mask, [[0, 0], [2, 2], [0, 0]])
        mask = tf.reduce_min(tf.stack([padded[:, k : k + height] for k in range(5)]), axis=0)
        padded = tf.pad(mask, [[0, 0], [0, 0], [2, 2]])
        return tf.reduce_min(tf.stack([padded[:, :, k : k + width] for k in range(5)]), axis=0)

    def _soft_histogram(coordinates, weight):
        """A joint histogram with linear (bilinear, trilinear...) soft binning, by weighted bincounts.

        ``coordinates``: per dimension ``(position in bin units, bins, circular)``, positions
        ``(B, P)``; each pixel splits its weight between the two nearest bins of each dimension.
        """
        corners = [(tf.zeros_like(weight, dtype=tf.int32), weight)]
        for position, bins, circular in coordinates:
            if not circular:
                position = tf.clip_by_value(position, 0.0, bins - 1.0)
            low = tf.floor(position)
            frac = position - low
            low = tf.cast(low, tf.int32)
            high = tf.math.floormod(low + 1, bins) if circular else tf.minimum(low + 1, bins - 1)
            low = tf.math.floormod(low, bins) if circular else low
            corners = [
                (index * bins + cell, w * share)
                for index, w in corners
                for cell, share in ((low, 1.0 - frac), (high, frac))
            ]
        size = 1
        for _, bins, _ in coordinates:
            size *= bins
        return tf.add_n([tf.math.bincount(index, weights=w, minlength=size, maxlength=size, axis=-1) for index, w in corners])

    def _linear_bins(values, bins: int):
        """Triangular soft bins with centres evenly spaced on [0, 1], the ends included (rows sum to 1)."""
        centres = tf.linspace(0.0, 1.0, bins)
        return tf.nn.relu(1.0 - tf.abs(values[..., None] - centres) * (bins - 1))

    def _scalar_bins(values, low: float, high: float, bins: int = _SCALAR_BINS):
        """One scalar per picture as soft bins over [low, high] (clipped), so that inner products compare it."""
        unit = tf.clip_by_value((values - low) / (high - low), 0.0, 1.0)
        return _linear_bins(unit, bins)

    def _rgb_to_lab(rgb):
        """sRGB in [0, 1] -> CIE Lab (D65)."""
        linear = tf.where(rgb <= 0.04045, rgb / 12.92, ((rgb + 0.055) / 1.055) ** 2.4)
        matrix = tf.constant(
            [[0.4124, 0.2126, 0.0193], [0.3576, 0.7152, 0.1192], [0.1805, 0.0722, 0.9505]], tf.float32
        )
        xyz = tf.tensordot(linear, matrix, axes=1) / tf.constant([0.95047, 1.0, 1.08883])
        f = tf.where(xyz > 0.008856, tf.pow(tf.maximum(xyz, 1e-9), 1.0 / 3.0), 7.787 * xyz + 16.0 / 116.0)
        fx, fy, fz = tf.unstack(f, axis=-1)
        return tf.stack([116.0 * fy - 16.0, 500.0 * (fx - fy), 200.0 * (fy - fz)], axis=-1)

    def _dominant_palette(lab, weight):
        """Two dominant colours by a few two-means steps, as Gaussian kernels on Lab prototypes, by share."""
        total = tf.maximum(tf.reduce_sum(weight, axis=1), 1e-6)
        mean = tf.reduce_sum(lab * weight[..., None], axis=1) / total[:, None]
        # Start from the split by lightness around the mean, then refine by nearest centre.
        bright = tf.sigmoid((lab[..., 0] - mean[:, None, 0]) / 2.0)
        assign = tf.stack([bright, 1.0 - bright], axis=-1)
        for _ in range(3):
            mass = tf.einsum("bpk,bp->bk", assign, weight)
            centres = tf.einsum("bpk,bpc->bkc", assign * weight[..., None], lab) / tf.maximum(mass, 1e-6)[..., None]
            distance = tf.reduce_sum((lab[:, :, None, :] - centres[:, None, :, :]) ** 2, axis=-1)
            assign = tf.nn.softmax(-distance / 50.0, axis=-1)
        mass = tf.einsum("bpk,bp->bk", assign, weight)
        shares = mass / tf.maximum(tf.reduce_sum(mass, axis=1, keepdims=True), 1e-6)
        prototypes = tf.constant([(l, a, b) for l in _LAB_L for a in _LAB_AB for b in _LAB_AB], tf.float32)
        kernel = tf.exp(
            -tf.reduce_sum((centres[:, :, None, :] - prototypes[None, None]) ** 2, axis=-1) / (2.0 * _LAB_SIGMA**2)
        )
        return tf.einsum("bk,bkp->bp", shares, kernel)

    def _orientation_histogram(grey, mask):
        """Magnitude-weighted unsigned gradient orientation histogram (8 bins) and mean gradient magnitude in the mask."""
        gx = tf.pad(grey[:, :, 2:] - grey[:, :, :-2], [[0, 0], [0, 0], [1, 1]]) * 0.5
        gy = tf.pad(grey[:, 2:, :] - grey[:, :-2, :], [[0, 0], [1, 1], [0, 0]]) * 0.5
        magnitude = tf.sqrt(gx**2 + gy**2 + 1e-12)
        angle = tf.math.floormod(tf.atan2(gy, gx), math.pi) / math.pi
        batch = tf.shape(grey)[0]
        weight = _flat(magnitude * mask, batch)
        histogram = _soft_histogram([(_flat(angle, batch) * 8.0, 8, True)], weight)
        histogram = histogram / tf.maximum(tf.reduce_sum(histogram, axis=1, keepdims=True), 1e-9)
        area = tf.maximum(tf.reduce_sum(mask, axis=[1, 2]), 1e-6)
        return histogram, tf.reduce_sum(weight, axis=1) / area

    def _lbp_histogram(grey, mask):
        """Rotation-invariant uniform LBP (riu2, 10 codes) of the 8 neighbours, weighted by the mask."""
        padded = tf.pad(grey, [[0, 0], [1, 1], [1, 1]], mode="SYMMETRIC")
        height, width = int(grey.shape[1]), int(grey.shape[2])
        cycle = [(0, 0), (0, 1), (0, 2), (1, 2), (2, 2), (2, 1), (2, 0), (1, 0)]  # round the centre
        # A small margin: flat fabric and JPEG noise do not flip bits.
        bits = [
            tf.cast(padded[:, dy : dy + height, dx : dx + width] - grey > 0.02, tf.int32) for dy, dx in cycle
        ]
        count = tf.add_n(bits)
        transitions = tf.add_n([tf.abs(bits[i] - bits[i - 1]) for i in range(8)])
        code = tf.where(transitions <= 2, count, 9)
        batch = tf.shape(grey)[0]
        histogram = tf.math.bincount(_flat(code, batch), weights=_flat(mask, batch), minlength=10, maxlength=10, axis=-1)
        return histogram / tf.maximum(tf.reduce_sum(histogram, axis=1, keepdims=True), 1e-9)

    _LAYERS.update(
        {
            "GarmentMask": GarmentMask,
            "ColourDescriptor": ColourDescriptor,
            "TextureDescriptor": TextureDescriptor,
            "ShapeDescriptor": ShapeDescriptor,
            "WeightedParts": WeightedParts,
        }
    )
    return _LAYERS


_LAYERS: dict[str, Any] = {}
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

    from street2shop.models.backbones import register_layers

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
    layers = register_descriptor_layers()
    inputs = keras.Input((size, size, 3), dtype="uint8", name="image")
    masked = layers["GarmentMask"](
        params=(DESCRIPTOR_VERSION, low, high, min_share, max_share, float(prior_sigma)), name="garment_mask"
    )(inputs)
    outputs = [
        layers[_PART_LAYERS[part]](params=[w for _, w in SUB_BLOCKS[part]], name=f"{part}_descriptor")(masked)
        for part in parts
    ]
    fused = layers["WeightedParts"](params=[weights[part] for part in parts], name="weighted_parts")(outputs)
    normalised = register_layers()["L2Normalize"](name="l2_normalize")(fused)
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
    from street2shop.models.encoder import make_encoder

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
