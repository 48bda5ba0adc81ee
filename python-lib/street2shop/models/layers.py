"""Every custom Keras layer street2shop puts in a saved model, and the layer names the code relies on.

:func:`register_layers` defines them all, once, registered under the package ``street2shop``
with their historical class names (a saved model names them ``street2shop>L2Normalize``...), so
any saved model (backbone encoder, descriptors, trained attribute or metric model) loads with
Keras ``safe_mode`` once it has run. TensorFlow is imported only when it runs.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

#: Layer names the rest of street2shop relies on (a trained model's parts and outputs).
BACKBONE_LAYER = "backbone"
POOLED_LAYER = "pooled"
ENCODING_LAYER = "encoding"
OUTPUT_LAYER = "probabilities"
PREPROCESS_LAYER = "preprocess"
L2_NORMALIZE_LAYER = "l2_normalize"

# The descriptor layers' fixed binning (changing one changes what a saved descriptor model computes).
_HUE_BINS, _VALUE_BINS, _SAT_BINS, _GREY_BINS = 12, 3, 2, 6
_LAB_L, _LAB_AB = (10.0, 35.0, 60.0, 85.0), (-60.0, -30.0, 0.0, 30.0, 60.0)
_LAB_SIGMA = 22.0
_SCALAR_BINS = 6
_GRID = 8


def register_layers() -> dict[str, Any]:
    """Define (once) and return every street2shop Keras layer class, by class name."""
    if not _LAYERS:
        _LAYERS.update(_model_layers())
        _LAYERS.update(_descriptor_layers())
    return _LAYERS


_LAYERS: dict[str, Any] = {}


def _model_layers() -> dict[str, Any]:
    """The backbones' preprocessing and normalisation, and BDN's colour planes."""
    import keras

    @keras.saving.register_keras_serializable(package="street2shop")
    class CaffePreprocess(keras.layers.Layer):
        """ResNet50's ImageNet preprocessing as a layer: RGB [0, 255] -> BGR minus the ImageNet mean."""

        MEAN_BGR = (103.939, 116.779, 123.68)

        def call(self, inputs):
            x = keras.ops.cast(inputs, "float32")
            bgr = keras.ops.flip(x, axis=-1)
            return bgr - keras.ops.convert_to_tensor(self.MEAN_BGR, dtype="float32")

    @keras.saving.register_keras_serializable(package="street2shop")
    class L2Normalize(keras.layers.Layer):
        """Scale each vector to unit length (cosine similarity = inner product)."""

        def call(self, inputs):
            norm = keras.ops.sqrt(keras.ops.sum(keras.ops.square(inputs), axis=-1, keepdims=True))
            return inputs / keras.ops.maximum(norm, 1e-12)

    @keras.saving.register_keras_serializable(package="street2shop")
    class RGBToHSV(keras.layers.Layer):
        """RGB in [0, 1] -> HSV in [0, 1] (the colour planes BDN's pathways look at)."""

        def call(self, inputs):
            return keras.ops.image.rgb_to_hsv(keras.ops.cast(inputs, "float32"))

    return {"CaffePreprocess": CaffePreprocess, "L2Normalize": L2Normalize, "RGBToHSV": RGBToHSV}


def _descriptor_layers() -> dict[str, Any]:
    """The garment descriptor layers (:mod:`street2shop.models.descriptors` describes what they compute)."""
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

    return {
        "GarmentMask": GarmentMask,
        "ColourDescriptor": ColourDescriptor,
        "TextureDescriptor": TextureDescriptor,
        "ShapeDescriptor": ShapeDescriptor,
        "WeightedParts": WeightedParts,
    }
