"""Street-like views synthesised from shop pictures: garments cut out once, then composited and degraded inside ``tf.data``."""

from __future__ import annotations

import hashlib
import json
import logging
import math
import os
import tempfile
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pandas as pd

from street2shop.errors import InvalidParameter
from street2shop.images.decode import DEFAULT_MAX_PIXELS, fit_to_square
from street2shop.images.load import read_image
from street2shop.progress import Progress
from street2shop.segmentation.garment import segment_garment
from street2shop.segmentation.params import SegmentParams
from street2shop.storage.stores import ordered_map

logger = logging.getLogger(__name__)

BACKGROUND_KINDS = ("texture", "picture", "consumer")
_PAD = 0.04  # of the garment's box, kept around it when cutting out


@dataclass(frozen=True)
class SynthesisParams:
    """How a shop picture becomes a street-like view; every step draws its own randomness per view.

    Attributes:
        scale_min, scale_max: the garment's side as a fraction of the view's.
        rotation_degrees: in-plane rotation within +-this.
        perspective: each corner moves by up to this fraction of the garment's side (a tilted camera).
        flip_p: mirror left to right.
        brightness, contrast, saturation: the largest change of each (fractions; brightness of 255).
        white_balance: per-channel gain within 1 +- this (indoor/outdoor light).
        blur_p, blur_sigma_max: Gaussian blur (camera shake, focus) and its largest sigma in pixels.
        noise_p, noise_std_max: additive Gaussian sensor noise, its largest std (0..255 scale).
        occlusion_p, occlusion_max: a rectangle (a bag, an arm, another garment) hides up to this
            fraction of the view.
        jpeg_p, jpeg_quality_min, jpeg_quality_max: re-compression (shoppers' photos are poor).
        shop_view_p: share of first views that are the shop picture as the gallery sees it, so
            that pairs teach shop -> street as well as street -> street.
        real_view_p: when a product has labelled consumer photos, share of second views taken
            from them instead of synthesised.
    """

    scale_min: float = 0.5
    scale_max: float = 0.95
    rotation_degrees: float = 15.0
    perspective: float = 0.1
    flip_p: float = 0.5
    brightness: float = 0.2
    contrast: float = 0.35
    saturation: float = 0.4
    white_balance: float = 0.15
    blur_p: float = 0.3
    blur_sigma_max: float = 1.4
    noise_p: float = 0.4
    noise_std_max: float = 10.0
    occlusion_p: float = 0.3
    occlusion_max: float = 0.25
    jpeg_p: float = 0.7
    jpeg_quality_min: int = 25
    jpeg_quality_max: int = 85
    shop_view_p: float = 0.5
    real_view_p: float = 0.5

    def __post_init__(self) -> None:
        for name in ("flip_p", "blur_p", "noise_p", "occlusion_p", "jpeg_p", "shop_view_p", "real_view_p"):
            value = getattr(self, name)
            if not 0.0 <= value <= 1.0:
                raise InvalidParameter(f"synthesis probability {name} must be in [0, 1], got {value}")
        if not 0.1 <= self.scale_min <= self.scale_max <= 1.2:
            raise InvalidParameter(f"garment scale must satisfy 0.1 <= min <= max <= 1.2, got {self.scale_min}..{self.scale_max}")
        if not 0.0 <= self.rotation_degrees <= 90.0:
            raise InvalidParameter(f"rotation must be within 0..90 degrees, got {self.rotation_degrees}")
        for name in ("perspective", "brightness", "contrast", "saturation", "white_balance", "occlusion_max"):
            value = getattr(self, name)
            if not 0.0 <= value <= 0.9:
                raise InvalidParameter(f"synthesis setting {name} must be in [0, 0.9], got {value}")
        if self.blur_sigma_max < 0 or self.noise_std_max < 0:
            raise InvalidParameter("blur sigma and noise std must not be negative")
        if not 1 <= self.jpeg_quality_min <= self.jpeg_quality_max <= 100:
            raise InvalidParameter(
                f"JPEG quality range must satisfy 1 <= min <= max <= 100, got {self.jpeg_quality_min}..{self.jpeg_quality_max}"
            )

    def describe(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class GarmentCutouts:
    """Shop pictures at the model's input size, each with its garment cut out.

    Attributes:
        images: the manifest ``image`` of each usable picture.
        shop: ``(n, S, S, 3)`` uint8, the whole picture fitted to the square (what the gallery holds).
        garment: ``(n, S, S, 3)`` uint8, the garment cropped to its box, on white.
        alpha: ``(n, S, S)`` uint8, 255 on the garment (in ``garment``'s frame).
        whole: per picture, whether segmentation fell back to the whole picture.
        errors: pictures that could not be read: row, image, reason.
    """

    images: list[str]
    shop: np.ndarray
    garment: np.ndarray
    alpha: np.ndarray
    whole: np.ndarray
    errors: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=["row", "image", "reason"]))
    cache_hits: int = 0

    def __len__(self) -> int:
        return len(self.images)


def _mask_key(data: bytes, params: SegmentParams) -> str:
    digest = hashlib.sha256(data)
    digest.update(json.dumps(params.as_dict(), sort_keys=True, default=str).encode())
    return digest.hexdigest()[:32]


def _read_cached_mask(cache_dir: Path | None, key: str, shape: tuple[int, int]) -> np.ndarray | None:
    if cache_dir is None:
        return None
    path = cache_dir / f"{key}.png"
    if not path.is_file():
        return None
    mask = cv2.imread(str(path), cv2.IMREAD_GRAYSCALE)
    if mask is None or mask.shape != shape:
        return None  # unreadable or for another picture: segment again
    return mask


def _write_cached_mask(cache_dir: Path, key: str, mask: np.ndarray) -> None:
    cache_dir.mkdir(parents=True, exist_ok=True)
    ok, buffer = cv2.imencode(".png", mask)
    if not ok:
        return
    handle, temporary = tempfile.mkstemp(prefix=f".{key}.", suffix=".tmp", dir=cache_dir)
    try:
        with os.fdopen(handle, "wb") as out:
            out.write(buffer.tobytes())
        os.replace(temporary, cache_dir / f"{key}.png")
    except OSError as err:  # a cache that cannot be written only costs time
        logger.warning("cannot cache a mask in %s: %s", cache_dir, err)
        Path(temporary).unlink(missing_ok=True)


def cut_out(rgb: np.ndarray, mask: np.ndarray, size: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A picture and its garment mask -> (whole picture, garment on white, mask), each fitted to ``size``."""
    keep = mask > 0
    if not keep.any():
        keep = np.ones(mask.shape, dtype=bool)
    ys, xs = np.nonzero(keep)
    height, width = mask.shape
    y0, y1, x0, x1 = ys.min(), ys.max() + 1, xs.min(), xs.max() + 1
    pad_y, pad_x = round((y1 - y0) * _PAD), round((x1 - x0) * _PAD)
    y0, y1, x0, x1 = max(0, y0 - pad_y), min(height, y1 + pad_y), max(0, x0 - pad_x), min(width, x1 + pad_x)
    garment = np.where(keep[:, :, None], rgb, 255).astype(np.uint8)[y0:y1, x0:x1]
    alpha = np.repeat(np.where(keep, 255, 0).astype(np.uint8)[y0:y1, x0:x1, None], 3, axis=2)
    return fit_to_square(rgb, size), fit_to_square(garment, size), fit_to_square(alpha, size, fill=0)[:, :, 0]


def cut_out_garments(
    source: Any,
    images: Sequence[str],
    rows: Sequence[int],
    *,
    size: int,
    params: SegmentParams = SegmentParams(),
    cache_dir: str | Path | None = None,
    max_pixels: int = DEFAULT_MAX_PIXELS,
    max_workers: int = 4,
) -> tuple[GarmentCutouts, np.ndarray]:
    """Read and segment each shop picture once (in parallel; masks cached by content), then cut it out.

    Args:
        source: anything with ``read_bytes(image)``.
        images, rows: the manifest ``image`` values and their row numbers (for error reports).
        size: the model's input side.
        cache_dir: where masks are kept between runs (keyed by the picture's bytes and ``params``).

    Returns:
        The cut-outs and, per input position, whether that picture is usable.
    """
    if size < 16:
        raise InvalidParameter(f"views must be at least 16 pixels, got {size}")
    images = [str(image) for image in images]
    if len(rows) != len(images):
        raise InvalidParameter(f"{len(rows)} row numbers for {len(images)} pictures")
    cache = Path(cache_dir) if cache_dir else None

    def load(image: str):
        # read_image rather than load_images: the mask-cache key needs the picture's bytes.
        data, rgb, error = read_image(source, image, max_pixels=max_pixels)
        if error is not None:
            return None, error
        key = _mask_key(data, params)
        mask = _read_cached_mask(cache, key, rgb.shape[:2])
        hit = mask is not None
        whole = False
        if mask is None:
            segmentation = segment_garment(rgb, params=params)
            mask, whole = segmentation.mask, segmentation.method == "whole"
            if cache is not None:
                _write_cached_mask(cache, key, mask)
        else:
            whole = bool(mask.min() > 0)
        return (*cut_out(rgb, mask, size), whole, hit), None

    ok = np.zeros(len(images), dtype=bool)
    kept: list[tuple] = []
    failed = []
    with Progress(len(images), "cutting out garments", logger=logger) as progress:
        for position, (result, error) in ordered_map(load, images, max_workers=max(1, max_workers)):
            progress.update()
            if error is not None:
                failed.append((int(rows[position]), images[position], error))
                continue
            ok[position] = True
            kept.append((images[position], *result))
    empty = np.zeros((0, size, size, 3), np.uint8)
    cutouts = GarmentCutouts(
        images=[k[0] for k in kept],
        shop=np.stack([k[1] for k in kept]) if kept else empty,
        garment=np.stack([k[2] for k in kept]) if kept else empty,
        alpha=np.stack([k[3] for k in kept]) if kept else empty[..., 0],
        whole=np.array([k[4] for k in kept], dtype=bool),
        errors=pd.DataFrame(failed, columns=["row", "image", "reason"]).astype({"row": "int64"}),
        cache_hits=sum(1 for k in kept if k[5]),
    )
    if failed:
        logger.warning("%d of %d shop pictures could not be used (first: row %d, %s: %s)", len(failed), len(images), *failed[0])
    logger.info(
        "%d garments cut out (%d from the mask cache, %d kept whole)", len(cutouts), cutouts.cache_hits, int(cutouts.whole.sum())
    )
    return cutouts, ok


# --- Backgrounds ---------------------------------------------------------------------------------


def _texture(size: int, rng: np.random.Generator) -> np.ndarray:
    """A procedural backdrop: a two-colour gradient with stripes, checks, blotches or planks, plus grain."""
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32) / size
    first, second = rng.uniform(20, 235, 3), rng.uniform(20, 235, 3)
    angle = rng.uniform(0, math.pi)
    ramp = np.clip(np.cos(angle) * xx + np.sin(angle) * yy, 0, 1)[..., None]
    picture = first * (1 - ramp) + second * ramp
    kind = rng.integers(0, 4)
    if kind == 0:  # stripes
        period = rng.uniform(0.05, 0.3)
        wave = (np.sin(2 * math.pi * (np.cos(angle) * yy - np.sin(angle) * xx) / period) > 0)[..., None]
        picture = np.where(wave, picture, picture * rng.uniform(0.55, 0.85))
    elif kind == 1:  # checks (tiles, a tablecloth)
        cells = int(rng.integers(3, 10))
        tiles = ((np.floor(xx * cells) + np.floor(yy * cells)) % 2)[..., None]
        picture = picture * (1 - 0.35 * tiles)
    elif kind == 2:  # blotches (foliage, a crowd out of focus)
        cells = int(rng.integers(3, 8))
        low = rng.uniform(0.4, 1.3, (cells, cells, 3)).astype(np.float32)
        picture = picture * cv2.resize(low, (size, size), interpolation=cv2.INTER_CUBIC)
    else:  # planks (a floor, a wooden wall)
        boards = int(rng.integers(3, 9))
        board = np.floor(yy * boards)
        grain = np.sin(2 * math.pi * (xx * rng.uniform(4, 12) + board * 1.7))[..., None]
        picture = picture * (0.85 + 0.1 * grain) * (1 - 0.2 * ((yy * boards) % 1 < 0.06)[..., None])
    picture = picture + rng.normal(0, rng.uniform(2, 10), (size, size, 1))
    return np.clip(picture, 0, 255).astype(np.uint8)


def _random_crop(picture: np.ndarray, size: int, rng: np.random.Generator, *, low: float, high: float, border: bool = False) -> np.ndarray:
    height, width = picture.shape[:2]
    side = max(4, int(min(height, width) * rng.uniform(low, high)))
    if border:  # consumer photos: the garment is mostly central, so take a crop touching an edge
        edge = rng.integers(0, 4)
        x0 = 0 if edge == 0 else width - side if edge == 1 else int(rng.integers(0, width - side + 1))
        y0 = 0 if edge == 2 else height - side if edge == 3 else int(rng.integers(0, height - side + 1))
    else:
        x0, y0 = int(rng.integers(0, width - side + 1)), int(rng.integers(0, height - side + 1))
    crop = picture[y0 : y0 + side, x0 : x0 + side]
    return cv2.resize(crop, (size, size), interpolation=cv2.INTER_AREA if side > size else cv2.INTER_LINEAR)


def background_bank(
    size: int,
    *,
    count: int = 256,
    pictures: np.ndarray | None = None,
    consumer: np.ndarray | None = None,
    seed: int = 0,
) -> tuple[np.ndarray, list[str]]:
    """Backdrops for the views: procedural textures, crops of other pictures, consumer photos' borders.

    Args:
        pictures: ``(n, H, W, 3)`` other pictures (e.g. shop shots) to crop from.
        consumer: ``(m, H, W, 3)`` consumer photos; crops touching an edge approximate their backgrounds.

    Returns:
        ``(count, size, size, 3)`` uint8 backdrops and each one's kind.
    """
    if count < 1:
        raise InvalidParameter(f"at least one background is needed, got {count}")
    rng = np.random.default_rng([seed, 7])
    kinds = ["texture"]
    if pictures is not None and len(pictures):
        kinds.append("picture")
    if consumer is not None and len(consumer):
        kinds.append("consumer")
    shares = {"texture": 0.5, "picture": 0.2, "consumer": 0.3}
    weights = np.array([shares[k] for k in kinds])
    drawn = rng.choice(len(kinds), size=count, p=weights / weights.sum())
    bank, names = [], []
    for k in drawn:
        kind = kinds[int(k)]
        if kind == "texture":
            bank.append(_texture(size, rng))
        elif kind == "picture":
            bank.append(_random_crop(pictures[int(rng.integers(0, len(pictures)))], size, rng, low=0.3, high=0.7))
        else:
            bank.append(_random_crop(consumer[int(rng.integers(0, len(consumer)))], size, rng, low=0.35, high=0.6, border=True))
        names.append(kind)
    return np.stack(bank).astype(np.uint8), names


# --- The view, in TensorFlow ------------------------------------------------------------------------


def _homography(src: Any, dst: Any) -> Any:
    """The 8 projective parameters mapping each ``dst`` corner to its ``src`` corner (output -> input)."""
    import tensorflow as tf

    rows = []
    targets = []
    for i in range(4):
        x, y = dst[i, 0], dst[i, 1]
        u, v = src[i, 0], src[i, 1]
        rows.append(tf.stack([x, y, 1.0, 0.0, 0.0, 0.0, -x * u, -y * u]))
        rows.append(tf.stack([0.0, 0.0, 0.0, x, y, 1.0, -x * v, -y * v]))
        targets += [u, v]
    solution = tf.linalg.solve(tf.stack(rows), tf.stack(targets)[:, None])
    return solution[:, 0]


def _gaussian_blur(image: Any, sigma: Any) -> Any:
    import tensorflow as tf

    offsets = tf.range(-2.0, 3.0)
    kernel = tf.exp(-(offsets**2) / (2.0 * tf.maximum(sigma, 0.2) ** 2))
    kernel = kernel / tf.reduce_sum(kernel)
    kernel2d = kernel[:, None] * kernel[None, :]
    kernel4d = tf.tile(kernel2d[:, :, None, None], [1, 1, 3, 1])
    padded = tf.pad(image[None], [[0, 0], [2, 2], [2, 2], [0, 0]], mode="REFLECT")
    return tf.nn.depthwise_conv2d(padded, kernel4d, strides=[1, 1, 1, 1], padding="VALID")[0]


def synthesise_view(garment: Any, alpha: Any, background: Any, occluder: Any, seed: Any, params: SynthesisParams) -> Any:
    """One street-like view: the garment warped onto a backdrop, then relit, blurred, noised, occluded, re-compressed.

    Args:
        garment: ``(S, S, 3)`` uint8, the garment on white.
        alpha: ``(S, S)`` uint8 mask of the garment.
        background, occluder: ``(S, S, 3)`` uint8 backdrops (the second textures the occluding patch).
        seed: ``(2,)`` int64 (stateless: the same seed gives the same view).

    Returns:
        ``(S, S, 3)`` uint8.
    """
    import tensorflow as tf

    size = int(garment.shape[0])
    side = float(size)
    u = tf.random.stateless_uniform([32], seed=seed)
    # Geometry: scale, rotate, move and tilt the garment's square, solved as one homography.
    scale = params.scale_min + (params.scale_max - params.scale_min) * u[0]
    angle = (2.0 * u[1] - 1.0) * params.rotation_degrees * math.pi / 180.0
    room = tf.maximum(1.0 - scale, 0.0) * side * 0.5
    shift = tf.stack([(2.0 * u[2] - 1.0) * room, (2.0 * u[3] - 1.0) * room])
    corners = tf.constant([[0.0, 0.0], [side, 0.0], [side, side], [0.0, side]])
    centre = tf.constant([side / 2.0, side / 2.0])
    rotation = tf.stack([tf.stack([tf.cos(angle), -tf.sin(angle)]), tf.stack([tf.sin(angle), tf.cos(angle)])])
    jitter = (tf.random.stateless_uniform([4, 2], seed=seed + 1) * 2.0 - 1.0) * params.perspective * side * scale
    placed = tf.linalg.matvec(rotation[None], (corners - centre) * scale) + centre + shift + jitter
    transform = _homography(corners, placed)
    coverage = tf.cast(alpha, tf.float32)[..., None]
    # Premultiplied by alpha, so bilinear edges blend into the backdrop, not into the cut-out's white.
    layers = tf.concat([tf.cast(garment, tf.float32) * coverage / 255.0, coverage], axis=-1)
    warped = tf.raw_ops.ImageProjectiveTransformV3(
        images=layers[None],
        transforms=transform[None],
        output_shape=[size, size],
        fill_value=0.0,
        interpolation="BILINEAR",
        fill_mode="CONSTANT",
    )[0]
    warped = tf.ensure_shape(warped, (size, size, 4))
    weight = warped[..., 3:] / 255.0
    backdrop = tf.cast(background, tf.float32)
    backdrop = tf.where(u[4] < 0.5, tf.reverse(backdrop, axis=[1]), backdrop)
    picture = warped[..., :3] + (1.0 - weight) * backdrop
    picture = tf.where(u[5] < params.flip_p, tf.reverse(picture, axis=[1]), picture)
    # Light: white balance, brightness, contrast, saturation.
    gains = 1.0 + (tf.random.stateless_uniform([3], seed=seed + 2) * 2.0 - 1.0) * params.white_balance
    picture = picture * gains + (2.0 * u[6] - 1.0) * params.brightness * 255.0
    mean = tf.reduce_mean(picture)
    picture = mean + (picture - mean) * (1.0 + (2.0 * u[7] - 1.0) * params.contrast)
    grey = tf.reduce_mean(picture, axis=-1, keepdims=True)
    picture = grey + (picture - grey) * (1.0 + (2.0 * u[8] - 1.0) * params.saturation)
    picture = tf.clip_by_value(picture, 0.0, 255.0)
    # Occlusion: a rectangle textured from another backdrop.
    if params.occlusion_p > 0:
        area = u[9] * params.occlusion_max * side * side
        aspect = tf.exp((2.0 * u[10] - 1.0) * 0.8)
        width = tf.clip_by_value(tf.sqrt(area * aspect), 1.0, side)
        height = tf.clip_by_value(area / width, 1.0, side)
        x0, y0 = u[11] * (side - width), u[12] * (side - height)
        grid = tf.range(side)
        inside = (
            ((grid >= y0) & (grid < y0 + height))[:, None] & ((grid >= x0) & (grid < x0 + width))[None, :]
        )[..., None]
        picture = tf.where(inside & (u[13] < params.occlusion_p), tf.cast(occluder, tf.float32), picture)
    if params.blur_p > 0 and params.blur_sigma_max > 0:
        picture = tf.cond(
            u[14] < params.blur_p, lambda: _gaussian_blur(picture, u[15] * params.blur_sigma_max), lambda: picture
        )
    if params.noise_p > 0 and params.noise_std_max > 0:
        noise = tf.random.stateless_normal([size, size, 3], seed=seed + 3) * (u[16] * params.noise_std_max)
        picture = picture + tf.where(u[17] < params.noise_p, noise, tf.zeros_like(noise))
    image = tf.cast(tf.clip_by_value(tf.round(picture), 0.0, 255.0), tf.uint8)
    if params.jpeg_p > 0:
        span = params.jpeg_quality_max - params.jpeg_quality_min + 1
        quality = tf.minimum(params.jpeg_quality_min + tf.cast(tf.floor(u[18] * span), tf.int32), params.jpeg_quality_max)
        image = tf.cond(
            u[19] < params.jpeg_p,
            lambda: tf.ensure_shape(tf.image.adjust_jpeg_quality(image, quality), (size, size, 3)),
            lambda: image,
        )
    return tf.ensure_shape(image, (size, size, 3))


def _light_shop_view(shop: Any, seed: Any) -> Any:
    """The shop picture as the gallery sees it, mirrored half the time (gallery pictures are not augmented)."""
    import tensorflow as tf

    u = tf.random.stateless_uniform([1], seed=seed)
    return tf.where(u[0] < 0.5, tf.reverse(shop, axis=[1]), shop)


@dataclass
class ViewSource:
    """What the pair pipeline draws from: cut-outs grouped by product, backdrops, optional real consumer photos."""

    cutouts: GarmentCutouts
    owners: np.ndarray  # per cut-out, its product's index (0..n_products-1)
    n_products: int
    backgrounds: np.ndarray
    real: np.ndarray | None = None  # (r, S, S, 3) consumer photos of training products
    real_owners: np.ndarray | None = None

    def __post_init__(self) -> None:
        self.owners = np.asarray(self.owners, dtype=np.int64)
        if len(self.owners) != len(self.cutouts):
            raise InvalidParameter(f"{len(self.owners)} owners for {len(self.cutouts)} cut-outs")
        if self.n_products < 2:
            raise InvalidParameter(f"metric learning needs at least two products, got {self.n_products}")
        if len(np.unique(self.owners)) != self.n_products or self.owners.min() < 0 or self.owners.max() >= self.n_products:
            raise InvalidParameter("every product needs at least one shop picture, numbered 0..n_products-1")
        if self.real is not None and len(self.real) == 0:
            self.real, self.real_owners = None, None

    @property
    def size(self) -> int:
        return int(self.cutouts.shop.shape[1])


def _groups(owners: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Positions sorted by owner, each owner's first position in that order and its count."""
    order = np.argsort(owners, kind="stable").astype(np.int64)
    counts = np.bincount(owners, minlength=n).astype(np.int64)
    starts = np.concatenate([[0], np.cumsum(counts)[:-1]]).astype(np.int64)
    return order, starts, counts


def view_dataset(
    views: ViewSource,
    *,
    products_per_batch: int,
    views_per_product: int = 2,
    params: SynthesisParams = SynthesisParams(),
    seed: int = 0,
) -> Any:
    """An endless ``tf.data`` stream of ``(uint8 views, product index)`` batches, ``P x K`` views each.

    Products come in a fresh random order each pass, ``products_per_batch`` per batch, with
    ``views_per_product`` views each: so every batch holds positives (same product) and many
    negatives. The first view of a product is its shop picture with probability
    ``params.shop_view_p``, the others are synthesised (or, with ``params.real_view_p``, one
    of its real consumer photos when it has any).
    """
    import tensorflow as tf

    if products_per_batch < 2 or views_per_product < 2:
        raise InvalidParameter("a batch needs at least two products and two views of each")
    order, starts, counts = _groups(views.owners, views.n_products)
    shop = tf.constant(views.cutouts.shop)
    garment = tf.constant(views.cutouts.garment)
    alpha = tf.constant(views.cutouts.alpha)
    backgrounds = tf.constant(views.backgrounds)
    n_backgrounds = len(views.backgrounds)
    order_t, starts_t, counts_t = tf.constant(order), tf.constant(starts), tf.constant(counts)
    has_real = views.real is not None
    if has_real:
        real = tf.constant(views.real)
        real_order, real_starts, real_counts = (tf.constant(a) for a in _groups(np.asarray(views.real_owners, np.int64), views.n_products))

    def one_view(product, k, base):
        seed_k = base + tf.stack([tf.cast(k, tf.int64) * 7919, tf.constant(0, tf.int64)])
        u = tf.random.stateless_uniform([4], seed=seed_k + 11)
        pick = order_t[starts_t[product] + tf.minimum(tf.cast(u[0] * tf.cast(counts_t[product], tf.float32), tf.int64), counts_t[product] - 1)]
        back = tf.minimum(tf.cast(u[1] * n_backgrounds, tf.int64), n_backgrounds - 1)
        cover = tf.minimum(tf.cast(u[2] * n_backgrounds, tf.int64), n_backgrounds - 1)

        def synthetic():
            return synthesise_view(garment[pick], alpha[pick], backgrounds[back], backgrounds[cover], seed_k, params)

        def shop_view():
            return _light_shop_view(shop[pick], seed_k)

        if k == 0:
            return tf.cond(u[3] < params.shop_view_p, shop_view, synthetic)
        if has_real and k == 1:

            def real_view():
                count = real_counts[product]
                chosen = real_order[real_starts[product] + tf.minimum(tf.cast(u[0] * tf.cast(count, tf.float32), tf.int64), count - 1)]
                return _light_shop_view(real[chosen], seed_k)

            return tf.cond((real_counts[product] > 0) & (u[3] < params.real_view_p), real_view, synthetic)
        return synthetic()

    def expand(product, r):
        base = tf.stack([r, tf.constant(seed, tf.int64)])
        images = tf.stack([one_view(product, k, base) for k in range(views_per_product)])
        labels = tf.fill([views_per_product], product)
        return tf.data.Dataset.from_tensor_slices((images, labels))

    products = tf.data.Dataset.range(views.n_products).shuffle(views.n_products, seed=seed, reshuffle_each_iteration=True).repeat()
    noise = tf.data.Dataset.random(seed=seed, rerandomize_each_iteration=True)
    stream = tf.data.Dataset.zip((products, noise)).interleave(
        expand, cycle_length=products_per_batch, block_length=views_per_product, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True
    )
    return stream.batch(products_per_batch * views_per_product, drop_remainder=True).prefetch(tf.data.AUTOTUNE)


def sample_views(views: ViewSource, cutout: int, count: int, *, params: SynthesisParams = SynthesisParams(), seed: int = 0) -> np.ndarray:
    """``count`` synthetic views of one cut-out, ``(count, S, S, 3)`` uint8 (eager; for pictures and checks)."""
    import tensorflow as tf

    rng = np.random.default_rng([seed, cutout])
    out = []
    for k in range(count):
        back, cover = rng.integers(0, len(views.backgrounds), 2)
        out.append(
            synthesise_view(
                tf.constant(views.cutouts.garment[cutout]),
                tf.constant(views.cutouts.alpha[cutout]),
                tf.constant(views.backgrounds[back]),
                tf.constant(views.backgrounds[cover]),
                tf.constant([seed, cutout * 1000 + k], tf.int64),
                params,
            ).numpy()
        )
    return np.stack(out) if out else np.zeros((0, views.size, views.size, 3), np.uint8)


def synthesis_png(
    views: ViewSource,
    path: str | Path,
    *,
    products: int = 6,
    per_product: int = 6,
    params: SynthesisParams = SynthesisParams(),
    seed: int = 0,
    names: Sequence[str] | None = None,
) -> None:
    """A grid a person can judge: per row, a shop picture, its garment cut-out, then synthetic street views."""
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    chosen = np.linspace(0, len(views.cutouts) - 1, min(products, len(views.cutouts))).round().astype(int)
    columns = per_product + 2
    fig, axes = plt.subplots(len(chosen), columns, figsize=(1.6 * columns, 1.75 * len(chosen)), squeeze=False)
    for row, cutout in zip(axes, chosen):
        synthetic = sample_views(views, int(cutout), per_product, params=params, seed=seed)
        cut = np.where(views.cutouts.alpha[cutout][..., None] > 0, views.cutouts.garment[cutout], 200).astype(np.uint8)
        pictures = [views.cutouts.shop[cutout], cut, *synthetic]
        titles = ["shop", "cut-out", *[f"view {k + 1}" for k in range(per_product)]]
        for ax, picture, title in zip(row, pictures, titles):
            ax.imshow(picture)
            ax.set_xticks([])
            ax.set_yticks([])
            ax.set_title(title, fontsize=7)
        label = names[int(views.owners[cutout])] if names is not None else views.cutouts.images[cutout]
        row[0].set_ylabel(str(label)[:18], fontsize=7)
    fig.suptitle("shop picture -> synthetic street views (positives of one product)", fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
