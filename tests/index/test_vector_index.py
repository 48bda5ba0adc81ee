"""FAISS vector index: exact, IVF and HNSW search, filters, serialisation."""

from __future__ import annotations

import numpy as np
import pytest

from street2shop.errors import InvalidParameter
from street2shop.index.vectors import VectorIndex


def unit(rows: int, dim: int = 24, seed: int = 0) -> np.ndarray:
    vectors = np.random.default_rng(seed).normal(size=(rows, dim)).astype(np.float32)
    return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)


def exact_top(vectors: np.ndarray, queries: np.ndarray, k: int) -> np.ndarray:
    return np.argsort(-(queries @ vectors.T), axis=1)[:, :k]


@pytest.mark.parametrize("kind", ["flat", "ivf", "hnsw"])
def test_search_finds_the_exact_neighbours(kind):
    vectors, queries = unit(2000), unit(20, seed=1)
    index = VectorIndex(kind=kind, nlist=8, nprobe=8).fit(vectors)
    scores, ids = index.search(queries, 5)
    assert ids.shape == (20, 5)
    assert np.all(np.diff(scores, axis=1) <= 1e-6)
    overlap = np.mean([len(set(a) & set(b)) / 5 for a, b in zip(ids, exact_top(vectors, queries, 5))])
    assert overlap >= (1.0 if kind == "flat" else 0.9)


@pytest.mark.parametrize("kind", ["flat", "ivf", "hnsw"])
def test_filtered_search_returns_only_allowed_ids(kind):
    vectors = unit(2000)
    allowed = np.arange(0, 2000, 7)
    index = VectorIndex(kind=kind, nlist=8, nprobe=8).fit(vectors)
    _, ids = index.search(unit(5, seed=2), 10, allowed_ids=allowed)
    assert set(ids[ids >= 0].ravel()) <= set(allowed)
    _, none = index.search(unit(2, seed=3), 3, allowed_ids=np.array([], np.int64))
    assert (none == -1).all()


@pytest.mark.parametrize("kind", ["flat", "ivf"])
def test_a_boolean_mask_filters_like_the_ids_it_marks(kind):
    vectors, queries = unit(2000), unit(6, seed=4)
    mask = np.zeros(2000, dtype=bool)
    mask[[3, 9, 10, 11, 500, 1999]] = True  # ids on both sides of byte boundaries of the bitmap
    index = VectorIndex(kind=kind, nlist=8, nprobe=8).fit(vectors)
    by_mask = index.search(queries, 6, allowed_ids=mask)[1]
    by_ids = index.search(queries, 6, allowed_ids=np.flatnonzero(mask))[1]
    np.testing.assert_array_equal(by_mask, by_ids)
    if kind == "flat":  # exact: every allowed item comes back, best first
        expected = np.flatnonzero(mask)[np.argsort(-(queries @ vectors[mask].T), axis=1)]
        np.testing.assert_array_equal(by_mask, expected)
    assert (index.search(queries, 3, allowed_ids=np.zeros(2000, dtype=bool))[1] == -1).all()


def test_bad_allowed_items_are_refused():
    index = VectorIndex().fit(unit(50))
    with pytest.raises(InvalidParameter, match="mask has 49 entries"):
        index.search(unit(1), 3, allowed_ids=np.ones(49, dtype=bool))
    with pytest.raises(InvalidParameter, match=r"in \[0, 50\)"):
        index.search(unit(1), 3, allowed_ids=np.array([1, 50]))


def test_serialisation_round_trip():
    vectors = unit(300)
    index = VectorIndex().fit(vectors)
    again = VectorIndex.from_bytes(index.to_bytes(), kind="flat")
    assert again.size == 300
    np.testing.assert_array_equal(index.search(vectors[:3], 4)[1], again.search(vectors[:3], 4)[1])


def test_bad_requests_are_refused():
    index = VectorIndex().fit(unit(50))
    with pytest.raises(InvalidParameter, match="dimensions"):
        index.search(unit(2, dim=8), 3)
    with pytest.raises(InvalidParameter, match="k must be"):
        index.search(unit(2), 0)
    with pytest.raises(InvalidParameter, match="IVF"):
        VectorIndex(kind="ivf").fit(unit(50))
    with pytest.raises(InvalidParameter, match="unknown index type"):
        VectorIndex(kind="lsh").fit(unit(50))
