"""Perceptual hashes (pHash, dHash) of pictures as 64-bit integers, with the hashes of their mirror images."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from street2shop.errors import InvalidParameter
from street2shop.images.decode import DEFAULT_MAX_PIXELS
from street2shop.progress import Progress

logger = logging.getLogger(__name__)

HASH_KINDS = ("phash", "dhash")
HASH_BITS = 64

_PHASH_SIDE = 32  # the picture is reduced to 32 x 32 before the DCT
_PHASH_BLOCK = 8  # its lowest 8 x 8 frequencies make the 64 bits
#: Side of the colour thumbnail that confirms hash matches (16 x 16 x 3 = 768 bytes a picture).
THUMB_SIDE = 16


def _gray(image: np.ndarray) -> np.ndarray:
    """An (H, W) float32 luminance plane from an RGB or gray uint8 picture."""
    import cv2

    if image.ndim == 3 and image.shape[2] == 3:
        gray = cv2.cvtColor(np.ascontiguousarray(image), cv2.COLOR_RGB2GRAY)
    elif image.ndim == 2:
        gray = image
    else:
        raise InvalidParameter(f"expected an (H, W, 3) RGB or (H, W) gray picture, got shape {image.shape}")
    if gray.size == 0:
        raise InvalidParameter("cannot hash an empty picture")
    return gray.astype(np.float32)


def _resize(gray: np.ndarray, width: int, height: int) -> np.ndarray:
    import cv2

    shrinking = gray.shape[0] >= height and gray.shape[1] >= width
    return cv2.resize(gray, (width, height), interpolation=cv2.INTER_AREA if shrinking else cv2.INTER_LINEAR)


def _pack(bits: np.ndarray) -> int:
    """64 booleans, row-major, first = most significant bit, as one unsigned integer."""
    return int(np.packbits(bits.reshape(-1).astype(np.uint8)).view(">u8")[0])


def _phash_of_small(small: np.ndarray) -> int:
    import cv2

    low = cv2.dct(small)[:_PHASH_BLOCK, :_PHASH_BLOCK]
    # The DC term measures brightness, not structure: it is left out of the median.
    median = np.median(low.reshape(-1)[1:])
    return _pack(low > median)


def _dhash_of_small(small: np.ndarray) -> int:
    return _pack(small[:, 1:] > small[:, :-1])


def phash(image: np.ndarray, *, mirrored: bool = False) -> int:
    """The 64-bit perceptual hash (low DCT frequencies above their median) of a picture.

    Args:
        image: an (H, W, 3) RGB or (H, W) gray uint8 picture.
        mirrored: hash the picture flipped left to right instead.
    """
    small = _resize(_gray(image), _PHASH_SIDE, _PHASH_SIDE)
    return _phash_of_small(np.ascontiguousarray(small[:, ::-1]) if mirrored else small)


def dhash(image: np.ndarray, *, mirrored: bool = False) -> int:
    """The 64-bit difference hash (is each of 9 x 8 cells brighter than its left neighbour) of a picture.

    Args:
        image: an (H, W, 3) RGB or (H, W) gray uint8 picture.
        mirrored: hash the picture flipped left to right instead.
    """
    small = _resize(_gray(image), 9, 8)
    return _dhash_of_small(small[:, ::-1] if mirrored else small)


def image_hash_values(image: np.ndarray, kinds: Sequence[str] = ("phash",), *, flip: bool = True) -> np.ndarray:
    """Every requested hash of one picture, and of its mirror image when ``flip``.

    Returns:
        A uint64 array ``[kind0, kind1, ..., kind0 mirrored, kind1 mirrored, ...]``.
    """
    kinds = check_kinds(kinds)
    gray = _gray(image)
    values = []
    smalls = {}
    for kind in kinds:
        if kind == "phash":
            smalls[kind] = _resize(gray, _PHASH_SIDE, _PHASH_SIDE)
            values.append(_phash_of_small(smalls[kind]))
        else:
            smalls[kind] = _resize(gray, 9, 8)
            values.append(_dhash_of_small(smalls[kind]))
    if flip:
        for kind in kinds:
            mirrored = np.ascontiguousarray(smalls[kind][:, ::-1])
            values.append(_phash_of_small(mirrored) if kind == "phash" else _dhash_of_small(mirrored))
    return np.asarray(values, dtype=np.uint64)


def colour_thumbnail(image: np.ndarray, side: int = THUMB_SIDE) -> np.ndarray:
    """The picture reduced to ``side`` x ``side`` RGB (area average): colours and coarse pattern.

    Grey-level hashes ignore colour, and product shots on white share silhouettes: two t-shirts
    of one cut but different colours or prints have nearly equal pHashes. The thumbnail's
    correlation tells them apart (see ``street2shop.dedup.hash_pairs.thumbnail_correlation``).
    """
    if image.ndim == 2:
        image = np.repeat(image[:, :, None], 3, axis=2)
    if image.ndim != 3 or image.shape[2] != 3 or image.size == 0:
        raise InvalidParameter(f"expected an (H, W, 3) RGB or (H, W) gray picture, got shape {image.shape}")
    import cv2

    shrinking = image.shape[0] >= side and image.shape[1] >= side
    small = cv2.resize(np.ascontiguousarray(image), (side, side), interpolation=cv2.INTER_AREA if shrinking else cv2.INTER_LINEAR)
    return small.astype(np.uint8)


def check_kinds(kinds: Sequence[str] | str) -> tuple[str, ...]:
    """Validate hash kind names: a non-empty subset of ``HASH_KINDS``, without repeats."""
    if isinstance(kinds, str):
        kinds = (kinds,)
    kinds = tuple(kinds)
    unknown = [kind for kind in kinds if kind not in HASH_KINDS]
    if not kinds or unknown or len(set(kinds)) != len(kinds):
        raise InvalidParameter(
            f"hash kinds must be a non-empty list of distinct values among {', '.join(HASH_KINDS)}; got {list(kinds)}"
        )
    return kinds


@dataclass
class ImageHashes:
    """Hashes of many pictures, one row per picture.

    Attributes:
        kinds: the hash kinds, in column order.
        codes: (n, len(kinds)) uint64; rows whose picture could not be read are 0.
        mirrored: (n, len(kinds)) uint64 hashes of the pictures flipped left to right, or None.
        ok: (n,) bool, whether the row's picture was read.
        thumbs: (n, side, side, 3) uint8 colour thumbnails, or None.
    """

    kinds: tuple[str, ...]
    codes: np.ndarray
    mirrored: np.ndarray | None
    ok: np.ndarray
    thumbs: np.ndarray | None = None

    def __post_init__(self) -> None:
        self.kinds = check_kinds(self.kinds)
        self.codes = np.asarray(self.codes, dtype=np.uint64).reshape(-1, len(self.kinds))
        n = len(self.codes)
        self.ok = np.asarray(self.ok, dtype=bool).reshape(-1)
        if len(self.ok) != n:
            raise InvalidParameter(f"hashes: {n} rows of codes but {len(self.ok)} flags")
        if self.mirrored is not None:
            self.mirrored = np.asarray(self.mirrored, dtype=np.uint64).reshape(-1, len(self.kinds))
            if len(self.mirrored) != n:
                raise InvalidParameter(f"hashes: {n} rows of codes but {len(self.mirrored)} mirrored rows")
        if self.thumbs is not None:
            self.thumbs = np.asarray(self.thumbs, dtype=np.uint8)
            if self.thumbs.ndim != 4 or len(self.thumbs) != n or self.thumbs.shape[3] != 3:
                raise InvalidParameter(f"hashes: thumbnails of shape {self.thumbs.shape} for {n} rows")

    def __len__(self) -> int:
        return len(self.codes)

    def column(self, kind: str, *, mirrored: bool = False) -> np.ndarray:
        """The (n,) uint64 hashes of one kind."""
        table = self.mirrored if mirrored else self.codes
        if table is None:
            raise InvalidParameter("these hashes were computed without their mirror images")
        return table[:, self.kinds.index(kind)]

    def take(self, rows: np.ndarray) -> ImageHashes:
        """The hashes of the given rows, in that order."""
        rows = np.asarray(rows, dtype=np.int64)
        return ImageHashes(
            self.kinds,
            self.codes[rows],
            None if self.mirrored is None else self.mirrored[rows],
            self.ok[rows],
            None if self.thumbs is None else self.thumbs[rows],
        )

    def to_frame(self) -> pd.DataFrame:
        """The hashes as 16-digit hexadecimal text columns (``phash``, ``phash_mirrored``, ...) and ``ok``."""
        columns: dict[str, Any] = {}
        for k, kind in enumerate(self.kinds):
            columns[kind] = [f"{int(v):016x}" for v in self.codes[:, k]]
            if self.mirrored is not None:
                columns[f"{kind}_mirrored"] = [f"{int(v):016x}" for v in self.mirrored[:, k]]
        columns["ok"] = self.ok
        return pd.DataFrame(columns)

    @classmethod
    def from_frame(cls, frame: pd.DataFrame, thumbs: np.ndarray | None = None) -> ImageHashes:
        """Read back :meth:`to_frame`'s table (and the thumbnails, saved apart)."""
        kinds = tuple(kind for kind in HASH_KINDS if kind in frame.columns)
        if not kinds or "ok" not in frame.columns:
            raise InvalidParameter(f"a hash table needs an 'ok' column and one of {', '.join(HASH_KINDS)}")

        def parse(column: str) -> np.ndarray:
            return np.array([int(str(v), 16) for v in frame[column]], dtype=np.uint64)

        codes = np.stack([parse(kind) for kind in kinds], axis=1) if len(frame) else np.zeros((0, len(kinds)), np.uint64)
        has_mirrored = all(f"{kind}_mirrored" in frame.columns for kind in kinds)
        mirrored = None
        if has_mirrored:
            mirrored = (
                np.stack([parse(f"{kind}_mirrored") for kind in kinds], axis=1)
                if len(frame)
                else np.zeros((0, len(kinds)), np.uint64)
            )
        ok = frame["ok"].astype(str).str.strip().str.lower().isin(["true", "1"]).to_numpy()
        return cls(kinds, codes, mirrored, ok, thumbs)


def hamming(a: np.ndarray | int, b: np.ndarray | int) -> np.ndarray:
    """Bitwise Hamming distance between uint64 hashes (broadcasting)."""
    return np.bitwise_count(np.bitwise_xor(np.asarray(a, dtype=np.uint64), np.asarray(b, dtype=np.uint64))).astype(
        np.int64
    )


def compute_hashes(
    source: Any,
    images: Sequence[str],
    *,
    kinds: Sequence[str] = ("phash",),
    flip: bool = True,
    thumbnails: bool = True,
    max_pixels: int = DEFAULT_MAX_PIXELS,
    max_workers: int = 8,
    label: str = "hashing",
) -> tuple[ImageHashes, pd.DataFrame]:
    """Read, decode and hash pictures in worker threads; bad pictures are reported, not raised.

    Args:
        source: where the pictures are (an ``ImageSource`` or image store).
        images: the manifest's ``image`` values; row i of the result is ``images[i]``.
        kinds: hash kinds among ``HASH_KINDS``.
        flip: also hash each picture flipped left to right (to match mirrored copies).
        thumbnails: also keep a 16 x 16 colour thumbnail of each picture (confirms hash matches).
        max_pixels: pictures larger than this are refused (decompression bombs).
        max_workers: reading and hashing threads.

    Returns:
        The hashes, and the rows that could not be hashed (columns row, image, reason; row is the
        position in ``images``).
    """
    from street2shop.images.load import load_images

    kinds = check_kinds(kinds)
    images = list(images)
    n, width = len(images), len(kinds)
    codes = np.zeros((n, width), dtype=np.uint64)
    mirrored = np.zeros((n, width), dtype=np.uint64) if flip else None
    ok = np.zeros(n, dtype=bool)
    thumbs = np.zeros((n, THUMB_SIDE, THUMB_SIDE, 3), dtype=np.uint8) if thumbnails else None
    failed: list[tuple[int, str, str]] = []
    n_values = width * (2 if flip else 1)

    def transform(pixels: np.ndarray) -> np.ndarray:
        # Hashing in the loading threads keeps only the hashes (and thumbnail) of a picture in memory.
        values = image_hash_values(pixels, kinds, flip=flip)
        if not thumbnails:
            return values
        return np.concatenate([values.view(np.uint8), colour_thumbnail(pixels).reshape(-1)])

    with Progress(n, label, logger=logger) as progress:
        for item in load_images(source, images, max_pixels=max_pixels, max_workers=max_workers, transform=transform):
            if item.error is None:
                values = item.pixels[: n_values * 8].view(np.uint64) if thumbnails else item.pixels
                codes[item.row] = values[:width]
                if mirrored is not None:
                    mirrored[item.row] = values[width:n_values]
                if thumbs is not None:
                    thumbs[item.row] = item.pixels[n_values * 8 :].reshape(THUMB_SIDE, THUMB_SIDE, 3)
                ok[item.row] = True
            else:
                failed.append((item.row, item.image, item.error))
            progress.update()
    errors = pd.DataFrame(failed, columns=["row", "image", "reason"]).astype({"row": "int64"})
    if failed:
        logger.warning("%d of %d pictures could not be hashed (first: %s: %s)", len(failed), n, failed[0][1], failed[0][2])
    return ImageHashes(kinds, codes, mirrored, ok, thumbs), errors
