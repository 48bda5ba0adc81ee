"""Candidate duplicate pairs by hash: Hamming range search (FAISS binary indexes) over perceptual hashes,
mirror images included, with an optional colour-thumbnail check."""

from __future__ import annotations

import logging

import numpy as np

from street2shop.dedup.candidates import DEFAULT_MAX_PAIRS, ImagePairs, check_pair_count, partition_map, partition_rows
from street2shop.dedup.hashing import HASH_BITS, ImageHashes, hamming
from street2shop.errors import InvalidParameter

logger = logging.getLogger(__name__)


#: Queries per binary range search call (worst case, every pair a match, is caught by max_pairs).
_HASH_BLOCK = 4096


def _check_hamming(max_distance: int) -> int:
    if isinstance(max_distance, bool) or not isinstance(max_distance, (int, np.integer)) or not 0 <= max_distance <= HASH_BITS:
        raise InvalidParameter(f"max_hamming must be an integer in 0..{HASH_BITS}, got {max_distance!r}")
    return int(max_distance)


def _check_correlation(value: float | None, hashes: ImageHashes) -> None:
    if value is None:
        return
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not -1.0 <= value <= 1.0:
        raise InvalidParameter(f"min_thumb_correlation must be in [-1, 1] or None, got {value!r}")
    if hashes.thumbs is None:
        raise InvalidParameter("min_thumb_correlation needs hashes computed with thumbnails")


def _codes_bytes(codes: np.ndarray) -> np.ndarray:
    """(n,) uint64 hashes as the (n, 8) uint8 codes FAISS binary indexes take."""
    return np.ascontiguousarray(codes.astype(">u8")).view(np.uint8).reshape(-1, 8)


#: Multi-index hashing pays off while each of the max_distance + 1 chunks keeps this many bits.
_MIH_MIN_BITS = 10


def _hamming_index(codes: np.ndarray, max_distance: int) -> object:
    """A FAISS binary index over (n,) uint64 hashes that finds every code within ``max_distance``.

    For small radii, multi-index hashing: split the 64 bits into max_distance + 1 chunks; two
    codes that close agree exactly on at least one chunk, so only codes sharing a chunk are
    compared (exact, and far fewer comparisons than all pairs). Otherwise exact brute force.
    """
    import faiss

    chunks = max_distance + 1
    if HASH_BITS // chunks >= _MIH_MIN_BITS and len(codes) >= 2048:
        index = faiss.IndexBinaryMultiHash(HASH_BITS, chunks, HASH_BITS // chunks)
    else:
        index = faiss.IndexBinaryFlat(HASH_BITS)
    index.add(_codes_bytes(codes))
    return index


def _range_hamming(index: object, queries: np.ndarray, max_distance: int) -> tuple[np.ndarray, np.ndarray]:
    """(query index, base index) of every pair within Hamming ``max_distance``."""
    # FAISS keeps Hamming distances strictly below the radius.
    lims, _, ids = index.range_search(_codes_bytes(queries), int(max_distance) + 1)
    q = np.repeat(np.arange(len(queries), dtype=np.int64), np.diff(lims).astype(np.int64))
    return q, ids.astype(np.int64)


def hash_distance(hashes_a: ImageHashes, rows_a: np.ndarray, hashes_b: ImageHashes, rows_b: np.ndarray) -> np.ndarray:
    """The distance of each (rows_a[i], rows_b[i]) pair: per kind the least Hamming distance over the
    pictures and their mirror images, then the largest over kinds (every kind must agree)."""
    rows_a, rows_b = np.asarray(rows_a, np.int64), np.asarray(rows_b, np.int64)
    if hashes_a.kinds != hashes_b.kinds:
        raise InvalidParameter(f"hash kinds differ: {hashes_a.kinds} and {hashes_b.kinds}")
    distance = np.zeros(len(rows_a), dtype=np.int64)
    for k in range(len(hashes_a.kinds)):
        ca, cb = hashes_a.codes[rows_a, k], hashes_b.codes[rows_b, k]
        best = hamming(ca, cb)
        if hashes_a.mirrored is not None and hashes_b.mirrored is not None:
            best = np.minimum(best, hamming(hashes_a.mirrored[rows_a, k], cb))
            best = np.minimum(best, hamming(ca, hashes_b.mirrored[rows_b, k]))
        distance = np.maximum(distance, best)
    return distance


def centred_thumbs(thumbs: np.ndarray) -> np.ndarray:
    """Thumbnails as mean-centred unit vectors (float32); flat pictures give zero vectors."""
    flat = thumbs.reshape(len(thumbs), -1).astype(np.float32)
    flat -= flat.mean(axis=1, keepdims=True)
    norms = np.linalg.norm(flat, axis=1, keepdims=True)
    return np.divide(flat, norms, out=np.zeros_like(flat), where=norms > 1e-6)


def thumbnail_correlation(hashes_a: ImageHashes, rows_a: np.ndarray, hashes_b: ImageHashes, rows_b: np.ndarray) -> np.ndarray:
    """Correlation of the colour thumbnails of each (rows_a[i], rows_b[i]) pair, the better of direct and
    mirrored; invariant to brightness and contrast, sensitive to colour and pattern.

    Two flat (single-colour) pictures correlate 1 when their colours are within 8 levels, else 0.
    """
    rows_a, rows_b = np.asarray(rows_a, np.int64), np.asarray(rows_b, np.int64)
    if hashes_a.thumbs is None or hashes_b.thumbs is None:
        raise InvalidParameter("these hashes have no thumbnails")
    out = np.empty(len(rows_a), dtype=np.float32)
    step = 65536
    for start in range(0, len(rows_a), step):
        ta, tb = hashes_a.thumbs[rows_a[start : start + step]], hashes_b.thumbs[rows_b[start : start + step]]
        ua = centred_thumbs(ta)
        direct = np.einsum("ij,ij->i", ua, centred_thumbs(tb))
        mirrored = np.einsum("ij,ij->i", ua, centred_thumbs(np.ascontiguousarray(tb[:, :, ::-1])))
        best = np.maximum(direct, mirrored)
        flat = ~ua.any(axis=1) | ~centred_thumbs(tb).any(axis=1)
        if flat.any():
            close = np.abs(ta[flat].astype(np.int16) - tb[flat].astype(np.int16)).mean(axis=(1, 2, 3)) <= 8
            best[flat] = close.astype(np.float32)
        out[start : start + step] = best
    return out


def hash_pairs(
    hashes: ImageHashes,
    max_distance: int,
    *,
    min_thumb_correlation: float | None = None,
    partition: np.ndarray | None = None,
    max_pairs: int = DEFAULT_MAX_PAIRS,
) -> ImagePairs:
    """Every pair of hashed rows within Hamming ``max_distance`` (see :func:`hash_distance`), a < b.

    Candidates come from an exact FAISS binary range search on the first hash kind (direct and
    mirrored; multi-index hashing for small radii), in query blocks; each candidate is then scored on every kind and, with
    ``min_thumb_correlation``, kept only if its colour thumbnails correlate at least that much.
    """
    max_distance = _check_hamming(max_distance)
    _check_correlation(min_thumb_correlation, hashes)
    parts, total = [], 0
    for rows in partition_rows(hashes.ok, partition):
        if len(rows) < 2:
            continue
        found = _hash_candidates(
            hashes, rows, rows, max_distance, min_thumb_correlation, max_pairs - total, self_join=True
        )
        total += len(found)
        parts.append(found)
    result = ImagePairs.concat(parts, np.int64).sorted()
    logger.info("hash pairs at Hamming <= %d: %d among %d pictures", max_distance, len(result), int(hashes.ok.sum()))
    return result


def hash_cross_pairs(
    queries: ImageHashes,
    base: ImageHashes,
    max_distance: int,
    *,
    min_thumb_correlation: float | None = None,
    query_partition: np.ndarray | None = None,
    base_partition: np.ndarray | None = None,
    max_pairs: int = DEFAULT_MAX_PAIRS,
) -> ImagePairs:
    """Every (query row, base row) pair within Hamming ``max_distance`` (see :func:`hash_pairs`)."""
    max_distance = _check_hamming(max_distance)
    _check_correlation(min_thumb_correlation, queries)
    _check_correlation(min_thumb_correlation, base)
    if queries.kinds != base.kinds:
        raise InvalidParameter(f"hash kinds differ: new pictures {queries.kinds}, catalogue {base.kinds}")
    q_groups, b_groups = partition_map(queries.ok, query_partition), partition_map(base.ok, base_partition)
    parts, total = [], 0
    for key, q_rows in q_groups.items():
        b_rows = b_groups.get(key)
        if b_rows is None:
            continue
        found = _hash_candidates(
            queries, q_rows, b_rows, max_distance, min_thumb_correlation, max_pairs - total, base=base
        )
        total += len(found)
        parts.append(found)
    return ImagePairs.concat(parts, np.int64).sorted()


def _hash_candidates(
    hashes: ImageHashes,
    q_rows: np.ndarray,
    b_rows: np.ndarray,
    max_distance: int,
    min_correlation: float | None,
    room: int,
    *,
    self_join: bool = False,
    base: ImageHashes | None = None,
) -> ImagePairs:
    base = hashes if base is None else base
    use_mirror = hashes.mirrored is not None and base.mirrored is not None
    direct = _hamming_index(base.codes[b_rows, 0], max_distance)
    # A self-join finds (a, b') from b's mirrored query; a cross search must look at b' itself.
    mirrored = _hamming_index(base.mirrored[b_rows, 0], max_distance) if use_mirror and not self_join else None
    parts, total = [], 0
    for qs in range(0, len(q_rows), _HASH_BLOCK):
        q_block = q_rows[qs : qs + _HASH_BLOCK]
        searches = [(direct, hashes.codes[q_block, 0])]
        if use_mirror:
            searches.append((direct, hashes.mirrored[q_block, 0]))
        if mirrored is not None:
            searches.append((mirrored, hashes.codes[q_block, 0]))
        found_q, found_b = [], []
        for index, queries in searches:
            q, d = _range_hamming(index, queries, max_distance)
            found_q.append(q_block[q])
            found_b.append(b_rows[d])
        a, b = np.concatenate(found_q), np.concatenate(found_b)
        if self_join:
            keep = a != b
            a, b = np.minimum(a[keep], b[keep]), np.maximum(a[keep], b[keep])
        if len(a):
            key = np.unique(np.stack([a, b], 1), axis=0)
            a, b = key[:, 0], key[:, 1]
            distance = hash_distance(hashes, a, base, b)
            keep = distance <= max_distance
            if min_correlation is not None and keep.any():
                keep[keep] = thumbnail_correlation(hashes, a[keep], base, b[keep]) >= min_correlation
            parts.append(ImagePairs(a[keep], b[keep], distance[keep]))
            total += int(keep.sum())
            check_pair_count(total, room, "hash")
    result = ImagePairs.concat(parts, np.int64)
    if self_join and len(result):
        # A pair is found from both of its rows' queries, in two blocks.
        key, first = np.unique(np.stack([result.a, result.b], 1), axis=0, return_index=True)
        result = ImagePairs(key[:, 0], key[:, 1], result.score[first])
    return result
