"""Retrieval ranks and their scores: each query's product rank, top-k hit rates and mean reciprocal rank.

The one implementation shared by index weight fitting, evaluation and metric-learning
validation. It sits at the top of the package, beside ``errors``, because ``index`` needs it
and ``evaluation`` sits above ``index``; it imports nothing of ours.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np


def product_ranks(
    scores: np.ndarray, query_pairs: Sequence[str], gallery_pairs: Sequence[str], gallery_products: Sequence[str]
) -> np.ndarray:
    """Rank (1-based) of the first product sharing each query's pair id, best view per product.

    A product's score is its best view's; ties count in the query's favour. 0 when no gallery
    product has the query's pair id.
    """
    scores = np.asarray(scores, dtype=np.float32)
    ranks = np.zeros(len(scores), dtype=np.int64)
    if scores.shape[1:] == (0,):
        return ranks  # an empty gallery: nothing to find
    products, codes = np.unique(np.asarray(gallery_products, dtype=str), return_inverse=True)
    order = np.argsort(codes, kind="stable")
    starts = np.flatnonzero(np.r_[True, np.diff(codes[order]) != 0])
    product_scores = np.maximum.reduceat(scores[:, order], starts, axis=1)
    pair_of_item = np.asarray(gallery_pairs, dtype=str)
    query_pairs = np.asarray(query_pairs, dtype=str)
    for pair in np.unique(query_pairs):
        wanted = np.zeros(len(products), dtype=bool)
        wanted[np.unique(codes[pair_of_item == pair])] = True
        if not wanted.any():
            continue
        rows = np.flatnonzero(query_pairs == pair)
        block = product_scores[rows]
        best = np.max(np.where(wanted, block, -np.inf), axis=1)
        ranks[rows] = 1 + np.sum(block > best[:, None], axis=1)
    return ranks


def retrieval_ranks(queries: np.ndarray, query_ids: Sequence[str], gallery: np.ndarray, gallery_ids: Sequence[str]) -> np.ndarray:
    """Per query vector, the 1-based rank of its product among the gallery's distinct products (by best picture); 0 if absent.

    :func:`product_ranks` on inner products, a product being its own pair. Vectors are
    L2-normalised, so the inner product is the cosine.
    """
    scores = np.asarray(queries, np.float32) @ np.asarray(gallery, np.float32).T
    return product_ranks(scores, query_ids, gallery_ids, gallery_ids)


def top_k_rates(ranks: np.ndarray, ks: Sequence[int] = (1, 5, 10, 20)) -> dict[str, float]:
    """Share of queries ranked within the top k, per k (rank 0, no match, is a miss; no query: 0)."""
    ranks = np.asarray(ranks)
    return {str(k): float(np.mean((ranks > 0) & (ranks <= k))) if len(ranks) else 0.0 for k in ks}


def mean_reciprocal_rank(ranks: np.ndarray) -> float:
    """The mean of ``1 / rank`` (rank 0, no match, counts 0; no query: 0)."""
    ranks = np.asarray(ranks)
    if not len(ranks):
        return 0.0
    return float(np.mean(np.where(ranks > 0, 1.0 / np.maximum(ranks, 1), 0.0)))


def retrieval_scores(ranks: np.ndarray, ks: Sequence[int] = (1, 10, 20)) -> dict[str, Any]:
    """Top-k hit rates and mean reciprocal rank, rounded to 4 digits, and the number of queries."""
    return {
        "top_k": {k: round(rate, 4) for k, rate in top_k_rates(ranks, ks).items()},
        "mrr": round(mean_reciprocal_rank(ranks), 4),
        "queries": int(len(ranks)),
    }
