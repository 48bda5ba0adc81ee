"""Read and decode many images concurrently, reporting each bad row with its reason instead of failing."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from street2shop.errors import BadImage, InvalidParameter, StorageError
from street2shop.images.decode import DEFAULT_MAX_PIXELS, decode_image
from street2shop.storage.stores import ImageSource, ImageStore, ordered_map

logger = logging.getLogger(__name__)


@dataclass
class LoadedImage:
    """One manifest row after loading: ``pixels`` (H x W x 3 uint8 RGB) or the ``error`` reason."""

    row: int
    image: str
    pixels: np.ndarray | None
    error: str | None

    @property
    def ok(self) -> bool:
        return self.error is None


def read_image(
    source: ImageSource | ImageStore, image: str, *, max_pixels: int = DEFAULT_MAX_PIXELS, min_side: int | None = None
) -> tuple[bytes | None, np.ndarray | None, str | None]:
    """Read and decode one picture: ``(bytes, pixels, None)``, or ``(None, None, reason)`` for a bad row.

    Never raises for a bad row; the reasons are those of :func:`load_images`. The bytes are returned
    for callers that key something on the file's content (a cache).
    """
    try:
        data = source.read_bytes(image)
    except StorageError as err:
        return None, None, str(err)
    except Exception as err:  # noqa: BLE001 - a duck-typed store may raise anything; the row is reported
        return None, None, f"cannot read {image}: {type(err).__name__}: {err}"
    try:
        pixels = decode_image(data, max_pixels=max_pixels, name=image, min_side=min_side)
    except BadImage as err:
        return None, None, err.reason
    except Exception as err:  # noqa: BLE001 - Pillow plugins raise odd errors on hostile files
        return None, None, f"corrupt image ({type(err).__name__}: {err})"
    return data, pixels, None


def load_images(
    source: ImageSource | ImageStore,
    images: Sequence[str],
    *,
    rows: Sequence[int] | None = None,
    max_pixels: int = DEFAULT_MAX_PIXELS,
    max_workers: int = 8,
    transform: Callable[[np.ndarray], np.ndarray] | None = None,
    min_side: int | None = None,
) -> Iterator[LoadedImage]:
    """Read and decode ``images`` in worker threads, yielding them in input order.

    Decoding runs in the workers too (Pillow releases the GIL), and at most ``2 * max_workers``
    images are in memory at once. A row that cannot be read or decoded is yielded with its
    reason ('missing: ...', 'empty file', 'not an image ...', 'image too large ...'); this
    function never raises for a bad row.

    Args:
        source: where the images are (an ImageSource, or any ImageStore).
        images: the manifest's ``image`` values.
        rows: the row number to report for each image (default: its position in ``images``),
            e.g. a validated manifest's '_row' column.
        max_pixels: pictures with more pixels are refused before decoding.
        max_workers: reading and decoding threads.
        transform: applied to the pixels in the worker (e.g. resize), so only its output is kept.
        min_side: the pictures will be shrunk to this side anyway (``decode_image``: a JPEG may
            be decoded at a reduced scale, never below it).
    """
    images = list(images)  # a pandas Series would index by label
    rows = list(rows) if rows is not None else None
    if rows is not None and len(rows) != len(images):
        raise InvalidParameter(f"rows has {len(rows)} values for {len(images)} images")

    def load(image: str) -> tuple[np.ndarray | None, str | None]:
        _, pixels, error = read_image(source, image, max_pixels=max_pixels, min_side=min_side)
        if error is not None:
            return None, error
        if transform is not None:
            try:
                pixels = transform(pixels)
            except BadImage as err:
                return None, err.reason
        return pixels, None

    for index, (pixels, error) in ordered_map(load, images, max_workers=max_workers):
        row = int(rows[index]) if rows is not None else index
        if error is not None:
            logger.debug("row %d (%s): %s", row, images[index], error)
        yield LoadedImage(row=row, image=images[index], pixels=pixels, error=error)


def errors_frame(loaded: Iterable[LoadedImage]) -> pd.DataFrame:
    """The failed rows as a table with columns row, image, reason."""
    failed = [item for item in loaded if item.error is not None]
    return pd.DataFrame(
        {
            "row": pd.array([item.row for item in failed], dtype="int64"),
            "image": [item.image for item in failed],
            "reason": [item.error for item in failed],
        },
        columns=["row", "image", "reason"],
    )
