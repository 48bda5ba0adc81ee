"""Training pictures: read and checked once (bad ones reported), then fed through ``tf.data`` from memory or from their files."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from street2shop.errors import BadImage, InvalidParameter, StorageError
from street2shop.images.decode import DEFAULT_MAX_PIXELS, decode_image, fit_to_square
from street2shop.progress import Progress
from street2shop.storage.stores import ordered_map
from street2shop.training.augment import AugmentParams, augment_image

logger = logging.getLogger(__name__)

CACHE_MODES = ("auto", "memory", "none")
#: With cache "auto", pictures are kept in memory (decoded and resized) up to this many bytes.
DEFAULT_CACHE_BYTES = 1 << 30

PixelTransform = Callable[[np.ndarray], np.ndarray]


@dataclass
class PictureSet:
    """The usable training pictures, at the model's input size.

    Attributes:
        images: the manifest ``image`` of each usable picture.
        pixels: ``(n, S, S, 3)`` uint8 when kept in memory, else None (read again from ``source``).
        errors: the pictures that could not be used: row, image, reason.
    """

    images: list[str]
    size: int
    source: Any
    pixels: np.ndarray | None = None
    transform: PixelTransform | None = None
    max_pixels: int = DEFAULT_MAX_PIXELS
    errors: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=["row", "image", "reason"]))
    _tensor: Any = None
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def __len__(self) -> int:
        return len(self.images)

    @property
    def cached(self) -> bool:
        return self.pixels is not None

    def prepare(self, pixels: np.ndarray) -> np.ndarray:
        """Decoded RGB -> the model's square input (transform hook first, e.g. garment segmentation)."""
        if self.transform is not None:
            pixels = self.transform(pixels)
        return fit_to_square(pixels, self.size)

    def read(self, position: int) -> np.ndarray:
        """One picture at the input size, from memory or from its file."""
        if self.pixels is not None:
            return self.pixels[position]
        return self.load(self.images[position])

    def load(self, image: str) -> np.ndarray:
        """Read, decode (a JPEG at reduced scale when it is much bigger than the input) and prepare one picture."""
        data = self.source.read_bytes(image)
        return self.prepare(decode_image(data, max_pixels=self.max_pixels, name=image, min_side=self.size))

    def tensor(self) -> Any:
        """The cached pixels as one constant tensor (made once, shared by the datasets)."""
        import tensorflow as tf

        with self._lock:
            if self._tensor is None:
                self._tensor = tf.constant(self.pixels)
        return self._tensor


def load_pictures(
    source: Any,
    images: Sequence[str],
    rows: Sequence[int],
    *,
    size: int,
    transform: PixelTransform | None = None,
    max_pixels: int = DEFAULT_MAX_PIXELS,
    cache: str = "auto",
    cache_bytes: int = DEFAULT_CACHE_BYTES,
    max_workers: int = 8,
) -> tuple[PictureSet, np.ndarray]:
    """Read every picture once: report the bad ones, keep the good ones in memory if they fit.

    Returns:
        The usable pictures and, per input position, whether it is usable.
    """
    if cache not in CACHE_MODES:
        raise InvalidParameter(f"cache must be one of {', '.join(CACHE_MODES)}, got {cache!r}")
    images = [str(image) for image in images]
    rows = list(rows)
    if len(rows) != len(images):
        raise InvalidParameter(f"{len(rows)} row numbers for {len(images)} pictures")
    keep = cache == "memory" or (cache == "auto" and len(images) * size * size * 3 <= cache_bytes)
    pictures = PictureSet(images=[], size=size, source=source, transform=transform, max_pixels=max_pixels)

    def load(image: str) -> tuple[np.ndarray | None, str | None]:
        try:
            return pictures.load(image), None
        except BadImage as err:
            return None, err.reason
        except StorageError as err:
            return None, str(err)
        except Exception as err:  # a store or a transform failing on one picture must not stop the others
            return None, f"{type(err).__name__}: {err}"

    ok = np.zeros(len(images), dtype=bool)
    kept: list[np.ndarray] = []
    failed = []
    with Progress(len(images), "reading training pictures", logger=logger) as progress:
        for position, (pixels, error) in ordered_map(load, images, max_workers=max_workers):
            progress.update()
            if error is not None:
                failed.append((int(rows[position]), images[position], error))
                continue
            ok[position] = True
            pictures.images.append(images[position])
            if keep:
                kept.append(pixels)
    if keep:
        pictures.pixels = np.stack(kept) if kept else np.zeros((0, size, size, 3), np.uint8)
    pictures.errors = pd.DataFrame(failed, columns=["row", "image", "reason"]).astype({"row": "int64"})
    if failed:
        logger.warning("%d of %d training pictures could not be used (first: row %d, %s: %s)", len(failed), len(images), *failed[0])
    logger.info("%d training pictures ready (%s)", int(ok.sum()), "in memory" if keep else "read from their files each epoch")
    return pictures, ok


def make_dataset(
    pictures: PictureSet,
    positions: np.ndarray,
    targets: np.ndarray,
    *,
    batch_size: int,
    shuffle: bool = False,
    augment: AugmentParams | None = None,
    seed: int = 0,
) -> Any:
    """A ``tf.data`` pipeline of ``(uint8 images, targets)`` batches.

    Pictures come from memory or are read, decoded and resized in parallel; augmentation draws
    its randomness per picture from a seeded stream that changes each epoch.
    """
    import tensorflow as tf

    positions = np.asarray(positions, dtype=np.int64)
    targets = np.asarray(targets, dtype=np.float32)
    size = pictures.size
    dataset = tf.data.Dataset.from_tensor_slices((positions, targets))
    if shuffle:
        dataset = dataset.shuffle(max(len(positions), 1), seed=seed, reshuffle_each_iteration=True)
    if pictures.cached:
        pixels = pictures.tensor()
        dataset = dataset.map(lambda i, y: (tf.gather(pixels, i), y), num_parallel_calls=tf.data.AUTOTUNE)
    else:

        def read(position: np.int64) -> np.ndarray:
            try:
                return pictures.read(int(position))
            except Exception as err:  # the file changed since it was checked: train on a blank, say so
                logger.warning("%s: %s", pictures.images[int(position)], err)
                return np.full((size, size, 3), 255, np.uint8)

        def read_tf(i, y):
            image = tf.numpy_function(read, [i], tf.uint8, stateful=False)
            image.set_shape((size, size, 3))
            return image, y

        dataset = dataset.map(read_tf, num_parallel_calls=tf.data.AUTOTUNE)
    if augment is not None and augment.enabled:
        # Each picture draws its own coins from a seeded stream that changes each epoch.
        noise = tf.data.Dataset.random(seed=seed, rerandomize_each_iteration=True)
        dataset = tf.data.Dataset.zip((dataset, noise)).map(
            lambda pair, r: (augment_image(pair[0], tf.stack([r, tf.constant(seed, tf.int64)]), augment), pair[1]),
            num_parallel_calls=tf.data.AUTOTUNE,
        )
    return dataset.batch(batch_size).prefetch(tf.data.AUTOTUNE)
