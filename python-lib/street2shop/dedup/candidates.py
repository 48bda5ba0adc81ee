"""What the vector and hash pair searches share: the ``ImagePairs`` they return, the blocks of rows
they search (``--same``), and the limit on how many pairs a search may find."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from street2shop.errors import InvalidParameter


#: More pairs than this means the threshold is far too loose for a duplicate search.
DEFAULT_MAX_PAIRS = 20_000_000


@dataclass
class ImagePairs:
    """Pairs of image rows with their score; for a self-join ``a < b``.

    Attributes:
        a: (m,) int64 row numbers (queries, for a cross search).
        b: (m,) int64 row numbers (base rows, for a cross search).
        score: (m,) cosine similarity (float32) or Hamming distance (int64).
    """

    a: np.ndarray
    b: np.ndarray
    score: np.ndarray

    def __len__(self) -> int:
        return len(self.a)

    @classmethod
    def empty(cls, score_dtype: type = np.float32) -> ImagePairs:
        return cls(np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0, score_dtype))

    @classmethod
    def concat(cls, parts: list[ImagePairs], score_dtype: type = np.float32) -> ImagePairs:
        parts = [part for part in parts if len(part)]
        if not parts:
            return cls.empty(score_dtype)
        return cls(
            np.concatenate([p.a for p in parts]).astype(np.int64, copy=False),
            np.concatenate([p.b for p in parts]).astype(np.int64, copy=False),
            np.concatenate([p.score for p in parts]).astype(score_dtype, copy=False),
        )

    def sorted(self) -> ImagePairs:
        """The pairs ordered by (a, b)."""
        order = np.lexsort((self.b, self.a))
        return ImagePairs(self.a[order], self.b[order], self.score[order])


def check_pair_count(total: int, max_pairs: int, what: str) -> None:
    """Raise when a search has found more than ``max_pairs`` pairs (``what``: vector or hash)."""
    if total > max_pairs:
        raise InvalidParameter(
            f"more than {max_pairs} {what} pairs: the threshold is too loose for a duplicate search "
            "(raise min_cosine or lower max_hamming, or raise max_pairs)"
        )


def _partition_keys(labels: np.ndarray) -> np.ndarray:
    return np.array(
        ["\x00missing" if v is None or (isinstance(v, float) and math.isnan(v)) or v == "" else str(v) for v in labels],
        dtype=object,
    )


def partition_rows(usable: np.ndarray, partition: np.ndarray | None) -> list[np.ndarray]:
    """Usable rows in blocks of equal partition label (sorted rows; one block when there is no partition)."""
    rows = np.flatnonzero(usable)
    if partition is None:
        return [rows]
    labels = np.asarray(partition, dtype=object)
    if len(labels) != len(usable):
        raise InvalidParameter(f"the partition has {len(labels)} values for {len(usable)} rows")
    keys = _partition_keys(labels[rows]).astype(str)
    order = np.argsort(keys, kind="stable")
    keys, rows = keys[order], rows[order]
    cuts = np.flatnonzero(keys[1:] != keys[:-1]) + 1
    return [np.sort(group) for group in np.split(rows, cuts) if len(group)]


def partition_map(usable: np.ndarray, partition: np.ndarray | None) -> dict[str, np.ndarray]:
    """Usable rows by partition key ('' for all when there is no partition)."""
    rows = np.flatnonzero(usable)
    if partition is None:
        return {"": rows}
    labels = np.asarray(partition, dtype=object)
    if len(labels) != len(usable):
        raise InvalidParameter(f"the partition has {len(labels)} values for {len(usable)} rows")
    keys = _partition_keys(labels[rows])
    out: dict[str, list[int]] = {}
    for key, row in zip(keys, rows):
        out.setdefault(str(key), []).append(int(row))
    return {key: np.asarray(value, dtype=np.int64) for key, value in out.items()}
