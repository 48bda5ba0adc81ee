"""Tests for street2shop.dedup.vector_pairs and hash_pairs: cosine pairs (exact, IVF cells, cross) and Hamming pairs (mirrored, thumbnails)."""

from __future__ import annotations

import numpy as np
import pytest

from street2shop.dedup import hash_pairs as hash_pairs_module
from street2shop.dedup.hash_pairs import hash_cross_pairs, hash_pairs, thumbnail_correlation
from street2shop.dedup.hashing import ImageHashes, hamming
from street2shop.dedup.vector_pairs import VectorSearchParams, vector_cross_pairs, vector_pairs
from street2shop.errors import InvalidParameter


def clustered_vectors(n: int, dim: int, seed: int = 0, modes: int = 12) -> tuple[np.ndarray, set[tuple[int, int]]]:
    """Non-negative vectors from a few modes, with planted near-copies; returns vectors and planted pairs."""
    rng = np.random.default_rng(seed)
    centres = rng.standard_normal((modes, dim)).astype(np.float32)
    base = np.maximum(centres[rng.integers(modes, size=n)] + rng.standard_normal((n, dim)).astype(np.float32) * 0.9, 0)
    planted = set()
    for k in range(0, n // 10):
        i, j = 2 * k, n - 1 - 2 * k
        base[j] = np.maximum(base[i] + rng.standard_normal(dim).astype(np.float32) * 0.05, 0)
        planted.add((min(i, j), max(i, j)))
    return base, planted


def brute_force(vectors: np.ndarray, min_cosine: float, mask: np.ndarray | None = None) -> set[tuple[int, int]]:
    unit = vectors / np.linalg.norm(vectors, axis=1, keepdims=True)
    sims = unit @ unit.T
    a, b = np.nonzero(np.triu(sims >= min_cosine, 1))
    keep = np.ones(len(a), bool) if mask is None else mask[a] & mask[b]
    return set(zip(a[keep].tolist(), b[keep].tolist()))


def as_set(found) -> set[tuple[int, int]]:
    return set(zip(found.a.tolist(), found.b.tolist()))


def test_exact_search_equals_brute_force_over_several_tiles():
    vectors, planted = clustered_vectors(700, 24)
    found = vector_pairs(vectors * 3.0, 0.95, params=VectorSearchParams(strategy="exact"))
    assert as_set(found) == brute_force(vectors, 0.95)
    assert planted <= as_set(found)
    assert np.all(found.a < found.b)
    unit = vectors / np.linalg.norm(vectors, axis=1, keepdims=True)
    assert np.allclose(found.score, np.einsum("ij,ij->i", unit[found.a], unit[found.b]), atol=1e-5)


def test_ivf_cells_find_nearly_every_pair_and_nothing_false():
    vectors, planted = clustered_vectors(3000, 48, seed=1)
    truth = brute_force(vectors, 0.9)
    params = VectorSearchParams(strategy="ivf", cell_size=40, nprobe=8, pca_dim=16)
    found = as_set(vector_pairs(vectors, 0.9, params=params))
    assert found <= truth
    assert len(found & truth) / len(truth) >= 0.99
    assert planted <= found


def test_auto_strategy_and_parameter_checks():
    assert VectorSearchParams().chooses_exact(1000, 2048)
    assert not VectorSearchParams().chooses_exact(120_000, 2048)
    assert VectorSearchParams(strategy="exact").chooses_exact(10**7, 2048)
    with pytest.raises(InvalidParameter):
        VectorSearchParams(strategy="hnsw").check()
    with pytest.raises(InvalidParameter):
        vector_pairs(np.ones((3, 2)), 1.5)
    with pytest.raises(InvalidParameter):
        vector_pairs(np.ones(3), 0.9)


def test_unusable_rows_and_partitions_are_respected():
    vectors, _ = clustered_vectors(300, 16, seed=2)
    vectors[5] = np.nan
    vectors[7] = 0.0
    ok = np.ones(300, bool)
    ok[10] = False
    found = as_set(vector_pairs(vectors, 0.9, ok=ok))
    assert not any(r in pair for pair in found for r in (5, 7, 10))
    mask = ok.copy()
    mask[[5, 7]] = False
    assert found == brute_force(np.nan_to_num(vectors) + 1e-12, 0.9, mask)
    partition = np.array(["a", "b"] * 150, dtype=object)
    split = as_set(vector_pairs(vectors, 0.9, ok=ok, partition=partition))
    assert split == {(i, j) for i, j in found if (i - j) % 2 == 0}


def test_too_loose_threshold_raises_instead_of_filling_memory():
    vectors, _ = clustered_vectors(400, 8, seed=3)
    with pytest.raises(InvalidParameter, match="too loose"):
        vector_pairs(vectors, -1.0, params=VectorSearchParams(max_pairs=1000))


def test_cross_search_matches_brute_force_and_partitions():
    vectors, _ = clustered_vectors(500, 20, seed=4)
    queries, base = vectors[:60], vectors[60:]
    found = vector_cross_pairs(queries, base, 0.9)
    unit_q = queries / np.linalg.norm(queries, axis=1, keepdims=True)
    unit_b = base / np.linalg.norm(base, axis=1, keepdims=True)
    q, b = np.nonzero(unit_q @ unit_b.T >= 0.9)
    assert as_set(found) == set(zip(q.tolist(), b.tolist()))
    labels_q, labels_b = np.array(["x", "y"] * 30, object), np.array(["x", "y"] * 220, object)
    same = as_set(vector_cross_pairs(queries, base, 0.9, query_partition=labels_q, base_partition=labels_b))
    assert same == {(i, j) for i, j in as_set(found) if labels_q[i] == labels_b[j]}
    with pytest.raises(InvalidParameter):
        vector_cross_pairs(queries[:, :5], base, 0.9)


def random_hashes(n: int, seed: int = 0, thumbs: bool = False) -> ImageHashes:
    rng = np.random.default_rng(seed)
    codes = rng.integers(0, 2**63, size=(n, 1), dtype=np.int64).astype(np.uint64) * np.uint64(2) + rng.integers(0, 2, (n, 1)).astype(np.uint64)
    mirrored = rng.integers(0, 2**63, size=(n, 1), dtype=np.int64).astype(np.uint64)
    pictures = rng.integers(0, 256, (n, 16, 16, 3)).astype(np.uint8) if thumbs else None
    return ImageHashes(("phash",), codes, mirrored, np.ones(n, bool), pictures)


def flip_bits(code: np.uint64, bits: list[int]) -> np.uint64:
    for bit in bits:
        code ^= np.uint64(1) << np.uint64(bit)
    return code


def test_hash_pairs_find_near_and_mirrored_copies_across_blocks(monkeypatch):
    monkeypatch.setattr(hash_pairs_module, "_HASH_BLOCK", 16)  # several query blocks
    hashes = random_hashes(60)
    hashes.codes[40, 0] = flip_bits(hashes.codes[3, 0], [1, 9, 33])  # distance 3
    hashes.codes[50, 0] = flip_bits(hashes.codes[3, 0], list(range(7)))  # distance 7
    hashes.codes[20, 0] = flip_bits(hashes.mirrored[35, 0], [60])  # a mirrored copy of row 35
    hashes.codes[30, 0] = flip_bits(hashes.mirrored[2, 0], [])  # row 30 matches row 2 mirrored
    found = hash_pairs(hashes, 4)
    assert {(3, 40), (20, 35), (2, 30)} <= as_set(found)
    assert (3, 50) not in as_set(found)
    scores = dict(zip(zip(found.a.tolist(), found.b.tolist()), found.score.tolist()))
    assert scores[(3, 40)] == 3 and scores[(2, 30)] == 0 and max(scores.values()) <= 4
    # Exactly the pairs whose best direct or mirrored distance is within 4.
    c, m = hashes.codes[:, 0], hashes.mirrored[:, 0]
    best = np.minimum(hamming(c[:, None], c[None, :]), np.minimum(hamming(m[:, None], c[None, :]), hamming(c[:, None], m[None, :])))
    a, b = np.nonzero(np.triu(best <= 4, 1))
    assert as_set(found) == set(zip(a.tolist(), b.tolist()))
    hashes.ok[40] = False
    assert (3, 40) not in as_set(hash_pairs(hashes, 4))


def test_hash_cross_pairs_look_at_both_mirrored_sides(monkeypatch):
    monkeypatch.setattr(hash_pairs_module, "_HASH_BLOCK", 8)
    base, new = random_hashes(30, seed=1), random_hashes(12, seed=2)
    new.codes[0, 0] = base.codes[4, 0]
    new.codes[1, 0] = base.mirrored[9, 0]  # the new picture is the catalogue's picture mirrored
    new.mirrored[2, 0] = flip_bits(base.codes[17, 0], [5])
    found = as_set(hash_cross_pairs(new, base, 2))
    assert {(0, 4), (1, 9), (2, 17)} <= found
    labels_new, labels_base = np.array(["a"] * 12, object), np.array(["b"] * 30, object)
    assert len(hash_cross_pairs(new, base, 2, query_partition=labels_new, base_partition=labels_base)) == 0


def test_thumbnail_check_rejects_same_shape_in_another_colour():
    hashes = random_hashes(3, thumbs=True)
    hashes.codes[1, 0] = hashes.codes[0, 0]
    hashes.codes[2, 0] = hashes.codes[0, 0]
    hashes.thumbs[1] = np.clip(hashes.thumbs[0].astype(int) * 1.1 + 12, 0, 255).astype(np.uint8)  # retouched
    hashes.thumbs[2] = hashes.thumbs[0][:, :, ::-1]  # channels swapped: another colour
    correlation = thumbnail_correlation(hashes, np.array([0, 0]), hashes, np.array([1, 2]))
    assert correlation[0] > 0.98 > correlation[1]
    assert as_set(hash_pairs(hashes, 0)) == {(0, 1), (0, 2), (1, 2)}
    assert as_set(hash_pairs(hashes, 0, min_thumb_correlation=0.98)) == {(0, 1)}
    flat = ImageHashes(("phash",), np.zeros((2, 1), np.uint64), None, [True, True], np.full((2, 16, 16, 3), 200, np.uint8))
    assert thumbnail_correlation(flat, np.array([0]), flat, np.array([1]))[0] == 1.0
    with pytest.raises(InvalidParameter):
        hash_pairs(random_hashes(3), 2, min_thumb_correlation=0.9)
    with pytest.raises(InvalidParameter):
        hash_pairs(hashes, 65)


def test_multi_index_hashing_is_exact_on_a_larger_set():
    hashes = random_hashes(3000, seed=5)
    rng = np.random.default_rng(6)
    for k in range(0, 600, 2):  # near copies at distances 0..5, some through the mirror image
        bits = rng.choice(64, size=k % 6, replace=False).tolist()
        source = hashes.mirrored if k % 4 == 0 else hashes.codes
        hashes.codes[k + 1, 0] = flip_bits(source[k, 0], bits)
    c, m = hashes.codes[:, 0], hashes.mirrored[:, 0]
    best = np.minimum(hamming(c[:, None], c[None, :]), np.minimum(hamming(m[:, None], c[None, :]), hamming(c[:, None], m[None, :])))
    for radius in (4, 5):
        a, b = np.nonzero(np.triu(best <= radius, 1))
        assert as_set(hash_pairs(hashes, radius)) == set(zip(a.tolist(), b.tolist()))
    assert len(hash_pairs(hashes, 4)) >= 200
