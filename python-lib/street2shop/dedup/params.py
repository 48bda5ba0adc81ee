"""A dedup run's settings (``DedupParams``), its result (``DedupResult``) and the names of its output files."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from street2shop.dedup.grouping import KeepPolicy, Thresholds
from street2shop.dedup.hashing import ImageHashes, check_kinds
from street2shop.dedup.vector_pairs import VectorSearchParams
from street2shop.dedup.verify import VERIFY_MODES, VerifyParams
from street2shop.errors import InvalidParameter
from street2shop.images.decode import DEFAULT_MAX_PIXELS

METHODS = ("auto", "hash", "cnn", "both")
DEFAULT_MIN_COSINE = 0.9
DEFAULT_MAX_HAMMING = 4
DEFAULT_MIN_THUMB_CORRELATION = 0.98

PAIRS_FILE = "pairs.csv"
GROUPS_FILE = "groups.csv"
MANIFEST_FILE = "manifest_dedup.csv"
ERRORS_FILE = "errors.csv"
HASHES_FILE = "hashes.csv"
THUMBS_FILE = "thumbs.npy"
CALIBRATION_FILE = "calibration.csv"
SUMMARY_FILE = "summary.json"
REPORT_DIR = "report"
ERROR_COLUMNS = ["row", "image", "reason"]


@dataclass(frozen=True)
class DedupParams:
    """What counts as a duplicate and how to search for it.

    Attributes:
        method: ``hash`` (perceptual hashes: copies, resized and recompressed copies), ``cnn``
            (vectors: near-duplicates), ``both`` (a pair found by either) or ``auto`` (``both``
            when vectors are given, else ``hash``).
        min_cosine: vectors: a pair when cosine similarity >= this.
        max_hamming: hashes: a pair when the Hamming distance (of 64 bits) <= this.
        hash_kinds: ``phash`` and/or ``dhash``; with both, both must be within ``max_hamming``.
        flip: also match pictures mirrored left to right (hashes; vectors are what they are).
        min_thumb_correlation: a hash match counts only if the pictures' 16 x 16 colour thumbnails
            correlate at least this much (None: Hamming distance alone). Product shots on white
            share silhouettes, which grey-level hashes cannot tell apart.
        same_column: only compare images with the same value in this manifest column.
        keep: which product of a group stays: ``most_views``, ``first_seen``, ``priority:COLUMN``.
        loose_min_cosine, loose_max_hamming: a group's members must be this close to its centre,
            else the group is flagged (default: 1.5 times as far from a perfect match).
        search: the vector search strategy and limits.
        verify: ``geometric`` (default): each picture's nearest pictures (by colour thumbnail, or
            by vector when vectors are used) that no threshold paired are checked with local
            features and a RANSAC similarity transform, which finds crops; ``none``: thresholds only.
        verification: the candidates' and the geometric check's settings.
        max_pixels: pictures larger than this are refused.
        max_workers: picture reading threads.
        report_pairs: pairs shown in the HTML report at most.
    """

    method: str = "auto"
    min_cosine: float = DEFAULT_MIN_COSINE
    max_hamming: int = DEFAULT_MAX_HAMMING
    hash_kinds: tuple[str, ...] = ("phash",)
    flip: bool = True
    min_thumb_correlation: float | None = DEFAULT_MIN_THUMB_CORRELATION
    same_column: str | None = None
    keep: str = "most_views"
    loose_min_cosine: float | None = None
    loose_max_hamming: int | None = None
    search: VectorSearchParams = field(default_factory=VectorSearchParams)
    verify: str = "geometric"
    verification: VerifyParams = field(default_factory=VerifyParams)
    max_pixels: int = DEFAULT_MAX_PIXELS
    max_workers: int = 8
    report_pairs: int = 500

    def check(self) -> DedupParams:
        """Validate every field; raise ``InvalidParameter`` naming the first bad one."""
        if self.method not in METHODS:
            raise InvalidParameter(f"method must be one of {', '.join(METHODS)}, got {self.method!r}")
        if isinstance(self.min_cosine, bool) or not isinstance(self.min_cosine, (int, float)) or not -1 <= self.min_cosine <= 1:
            raise InvalidParameter(f"min_cosine must be a number in [-1, 1], got {self.min_cosine!r}")
        if isinstance(self.max_hamming, bool) or not isinstance(self.max_hamming, (int, np.integer)) or not 0 <= self.max_hamming <= 64:
            raise InvalidParameter(f"max_hamming must be an integer in 0..64, got {self.max_hamming!r}")
        check_kinds(self.hash_kinds)
        if self.min_thumb_correlation is not None and (
            isinstance(self.min_thumb_correlation, bool) or not -1 <= self.min_thumb_correlation <= 1
        ):
            raise InvalidParameter(f"min_thumb_correlation must be in [-1, 1] or None, got {self.min_thumb_correlation!r}")
        KeepPolicy.parse(self.keep)
        if self.loose_min_cosine is not None and not -1 <= self.loose_min_cosine <= self.min_cosine:
            raise InvalidParameter(f"loose_min_cosine must be in [-1, min_cosine], got {self.loose_min_cosine!r}")
        if self.loose_max_hamming is not None and not self.max_hamming <= self.loose_max_hamming <= 64:
            raise InvalidParameter(f"loose_max_hamming must be in [max_hamming, 64], got {self.loose_max_hamming!r}")
        for name in ("max_pixels", "max_workers", "report_pairs"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < (0 if name == "report_pairs" else 1):
                raise InvalidParameter(f"{name} must be a positive integer, got {value!r}")
        self.search.check()
        if self.verify not in VERIFY_MODES:
            raise InvalidParameter(f"verify must be one of {', '.join(VERIFY_MODES)}, got {self.verify!r}")
        self.verification.check()
        return self

    @property
    def thresholds(self) -> Thresholds:
        return Thresholds(
            self.min_cosine, int(self.max_hamming), self.loose_min_cosine, self.loose_max_hamming,
            float(self.verification.min_detail_correlation),
        )

    def resolved_method(self, has_vectors: bool) -> str:
        """The method actually run, given whether vectors were supplied."""
        method = ("both" if has_vectors else "hash") if self.method == "auto" else self.method
        if method in ("cnn", "both") and not has_vectors:
            raise InvalidParameter(
                f"method {method} needs image vectors (an index folder from 'embed', or an .npy file of one row "
                "per manifest row); without them use method hash"
            )
        return method


@dataclass
class DedupResult:
    """What a dedup run found.

    Attributes:
        pairs: product pairs (``PAIR_COLUMNS``): product_a, product_b, image_a, image_b,
            similarity, method, cosine, hamming (-1: not hashed), margin, image_pairs, group_id.
        groups: one row per product of a duplicate group (``GROUP_COLUMNS``).
        manifest: the input manifest without the products that are not kept.
        errors: rows that could not be used: row, image, reason.
        hashes: the pictures' hashes (aligned with ``items``), when hashes were used.
        items: the manifest rows that were searched (with '_row', their input position).
        summary: counts and settings, JSON-ready.
        calibration: precision/recall/F1 over thresholds, when labelled or planted pairs were given.
    """

    pairs: pd.DataFrame
    groups: pd.DataFrame
    manifest: pd.DataFrame
    errors: pd.DataFrame
    hashes: ImageHashes | None
    items: pd.DataFrame
    summary: dict
    calibration: pd.DataFrame | None = None
