"""The geometric verification stage of a dedup run: each picture's nearest pictures (by vector, or by
colour thumbnail) not already paired become candidates, verified by local features and RANSAC."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from street2shop.dedup.hash_pairs import centred_thumbs
from street2shop.dedup.params import DedupParams
from street2shop.dedup.stages import empty_errors
from street2shop.dedup.vector_pairs import vector_neighbours
from street2shop.dedup.verify import DIRECT, MIRRORED, VerifyParams, verify_pairs

logger = logging.getLogger(__name__)


@dataclass
class NeighbourSearch:
    """One nearest-neighbour search for verification candidates, in matrix rows mapped to space rows."""

    queries: np.ndarray
    query_rows: np.ndarray
    query_space: np.ndarray
    base: np.ndarray
    base_rows: np.ndarray
    base_space: np.ndarray
    self_join: bool
    orientation: int


def _thumb_descriptors(thumbs: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Centred colour thumbnails pooled to 8 x 8 (cheap to compare), direct and mirrored, and the usable rows."""
    n, side = len(thumbs), thumbs.shape[1]
    pooled = thumbs.astype(np.float32)
    if side % 2 == 0:
        pooled = pooled.reshape(n, side // 2, 2, side // 2, 2, 3).mean(axis=(2, 4))
    direct = centred_thumbs(pooled)
    mirrored = centred_thumbs(np.ascontiguousarray(pooled[:, :, ::-1]))
    return direct, mirrored, direct.any(axis=1)


def thumbnail_searches(thumbs: np.ndarray, ok: np.ndarray, blocks: list[tuple[np.ndarray, np.ndarray, bool]]) -> list[NeighbourSearch]:
    """Direct and mirrored thumbnail searches over space rows (``thumbs`` indexed by space row)."""
    direct, mirrored, usable = _thumb_descriptors(thumbs)
    usable &= ok
    searches = []
    for queries, base, self_join in blocks:
        queries, base = queries[usable[queries]], base[usable[base]]
        for matrix, orientation in ((direct, DIRECT), (mirrored, MIRRORED)):
            searches.append(NeighbourSearch(matrix, queries, queries, direct, base, base, self_join, orientation))
    return searches


def _candidate_pairs(searches: list[NeighbourSearch], n_space: int, params: VerifyParams, exclude: list[tuple[np.ndarray, np.ndarray]],
                     products: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Candidate pairs (a < b, space rows) and their orientation: not already paired, not one product's views."""
    parts = []
    for search in searches:
        found = vector_neighbours(search.queries, search.base, params.neighbours, params.min_candidate_similarity,
                                  query_rows=search.query_rows, base_rows=search.base_rows, self_join=search.self_join)
        if not len(found):
            continue
        q_lookup = np.full(len(search.queries), -1, np.int64)
        q_lookup[search.query_rows] = search.query_space
        b_lookup = np.full(len(search.base), -1, np.int64)
        b_lookup[search.base_rows] = search.base_space
        a, b = q_lookup[found.a], b_lookup[found.b]
        parts.append((np.minimum(a, b), np.maximum(a, b), found.score.astype(np.float64), np.full(len(a), search.orientation)))
    if not parts:
        return np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0, np.int64)
    a, b, score, orientation = (np.concatenate([p[k] for p in parts]) for k in range(4))
    keep = (a != b) & (products[a] != products[b])
    if exclude:
        known = np.concatenate([np.minimum(x, y) * n_space + np.maximum(x, y) for x, y in exclude])
        keep &= ~np.isin(a * n_space + b, known)
    a, b, score, orientation = a[keep], b[keep], score[keep], orientation[keep]
    # A pair found from both ends, or direct and mirrored: the better scored orientation.
    order = np.lexsort((-score, b, a))
    a, b, orientation = a[order], b[order], orientation[order]
    first = np.ones(len(a), bool)
    first[1:] = (a[1:] != a[:-1]) | (b[1:] != b[:-1])
    return a[first], b[first], orientation[first]


def verify_stage(
    searches: list[NeighbourSearch] | None,
    *,
    images: np.ndarray,
    products: np.ndarray,
    exclude: list[tuple[np.ndarray, np.ndarray]],
    source: Any,
    params: DedupParams,
    why_not: str | None = None,
) -> tuple[tuple[np.ndarray, np.ndarray, np.ndarray] | None, pd.DataFrame, dict]:
    """Candidates from ``searches``, verified geometrically: (a, b, score) in space rows, read errors, summary."""
    import time

    if params.verify != "geometric":
        return None, empty_errors(), {"verify": "none"}
    if why_not is None and source is None:
        why_not = "no pictures to read"
    if why_not is not None or searches is None:
        logger.warning("geometric verification skipped: %s", why_not)
        return None, empty_errors(), {"verify": f"skipped: {why_not}"}
    started = time.perf_counter()
    settings = params.verification
    a, b, orientation = _candidate_pairs(searches, len(images), settings, exclude, products)
    chosen = time.perf_counter()
    verified, errors = verify_pairs(source, [str(i) for i in images], a, b, orientation=orientation, params=settings,
                                    max_pixels=params.max_pixels, max_workers=params.max_workers)
    info = {
        "verify": "geometric", "verify_candidates": int(len(a)), "verified_pairs": int(len(verified)),
        "verify_seconds": round(time.perf_counter() - started, 3), "candidate_seconds": round(chosen - started, 3),
    }
    return (verified.a, verified.b, verified.score), errors, info
