"""Candidate duplicate pairs of images: cosine range search over vectors, Hamming range search over hashes."""

from __future__ import annotations

import logging
import math
import os
from dataclasses import dataclass

import numpy as np
from threadpoolctl import threadpool_limits

from street2shop.dedup.hashing import HASH_BITS, ImageHashes, hamming
from street2shop.errors import InvalidParameter
from street2shop.progress import Progress
from street2shop.storage.stores import ordered_map

logger = logging.getLogger(__name__)

STRATEGIES = ("auto", "exact", "ivf")

#: ``auto`` searches exactly while n * n / 2 * dim multiply-adds stay under this (~15 s on 2 cores).
DEFAULT_EXACT_MAX_WORK = 1.0e12
#: Bytes one worker's block of similarities may take (float32 scores, and as many results at worst).
DEFAULT_MEMORY_BUDGET = 64 * 2**20
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


# --------------------------------------------------------------------------- helpers


def _check_cosine(min_cosine: float) -> float:
    if isinstance(min_cosine, bool) or not isinstance(min_cosine, (int, float)) or math.isnan(min_cosine) or not -1.0 <= float(min_cosine) <= 1.0:
        raise InvalidParameter(f"min_cosine must be a number in [-1, 1], got {min_cosine!r}")
    return float(min_cosine)


def _check_hamming(max_distance: int) -> int:
    if isinstance(max_distance, bool) or not isinstance(max_distance, (int, np.integer)) or not 0 <= max_distance <= HASH_BITS:
        raise InvalidParameter(f"max_hamming must be an integer in 0..{HASH_BITS}, got {max_distance!r}")
    return int(max_distance)


def _vectors_matrix(vectors: np.ndarray, name: str = "vectors") -> np.ndarray:
    array = vectors if isinstance(vectors, np.ndarray) else np.asarray(vectors)
    if array.ndim != 2:
        raise InvalidParameter(f"{name} must be a 2-D array (rows x dimensions), got shape {array.shape}")
    if array.shape[1] == 0:
        raise InvalidParameter(f"{name} have no dimensions")
    if not np.issubdtype(array.dtype, np.number):
        raise InvalidParameter(f"{name} must be numbers, got dtype {array.dtype}")
    return array


def usable_vector_rows(vectors: np.ndarray, ok: np.ndarray | None = None) -> np.ndarray:
    """Rows that can be compared: flagged ok, finite and not all zero."""
    array = _vectors_matrix(vectors)
    usable = np.ones(len(array), dtype=bool) if ok is None else np.asarray(ok, dtype=bool).copy()
    if len(usable) != len(array):
        raise InvalidParameter(f"the row mask has {len(usable)} values for {len(array)} vectors")
    step = 8192
    with np.errstate(over="ignore", invalid="ignore"):
        for start in range(0, len(array), step):
            chunk = np.asarray(array[start : start + step], dtype=np.float32)
            # A NaN or infinity anywhere in a row makes its squared norm non-finite.
            squared = np.einsum("ij,ij->i", chunk, chunk)
            usable[start : start + step] &= np.isfinite(squared) & (squared > 0)
    return usable


def _normalised(array: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """A float32 copy of ``array[rows]``, rows scaled to unit length; read in blocks (a memmap works)."""
    out = np.empty((len(rows), array.shape[1]), dtype=np.float32)
    contiguous = len(rows) > 0 and rows[-1] - rows[0] == len(rows) - 1 and bool(np.all(np.diff(rows) == 1))
    step = 8192
    for start in range(0, len(rows), step):
        if contiguous:
            first = int(rows[start])
            chunk = np.asarray(array[first : first + min(step, len(rows) - start)], dtype=np.float32)
        else:
            chunk = np.asarray(array[rows[start : start + step]], dtype=np.float32)
        out[start : start + len(chunk)] = chunk / np.linalg.norm(chunk, axis=1, keepdims=True)
    return out


def _tile_rows(dim: int, budget: int) -> int:
    """Rows per side of a square similarity tile whose scores, and results at worst, fit ``budget`` bytes."""
    return int(max(256, min(8192, math.isqrt(max(budget // 20, 1)))))


def _workers() -> int:
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not Linux
        return max(1, os.cpu_count() or 1)


def _parallel(tasks: list, run: object, label: str, room: int) -> list:
    """Run ``run(task)`` for every task on all cores, each task with single-threaded BLAS.

    Many small single-threaded products beat one multi-threaded BLAS call on these sizes, and
    stay fast when the cores are shared with other work (measured: 55-65 vs 10-20 GFLOPS).
    """

    results, total = [], 0
    with threadpool_limits(limits=1, user_api="blas"), Progress(len(tasks), label, logger=logger) as progress:
        for _, found in ordered_map(run, tasks, max_workers=_workers()):
            results.append(found)
            total += len(found)
            _guard(total, room, "vector")
            progress.update()
    return results


def _above(queries: np.ndarray, base: np.ndarray, min_cosine: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(query index, base index, cosine) of every pair of unit rows with cosine >= min_cosine."""
    sims = queries @ base.T
    q, b = np.nonzero(sims >= np.float32(min_cosine))
    return q.astype(np.int64), b.astype(np.int64), sims[q, b]


def _guard(total: int, max_pairs: int, what: str) -> None:
    if total > max_pairs:
        raise InvalidParameter(
            f"more than {max_pairs} {what} pairs: the threshold is too loose for a duplicate search "
            "(raise min_cosine or lower max_hamming, or raise max_pairs)"
        )


# --------------------------------------------------------------------------- vectors


@dataclass(frozen=True)
class VectorSearchParams:
    """How :func:`vector_pairs` searches.

    Attributes:
        strategy: ``exact`` (every pair, blocked brute force), ``ivf`` (PCA + k-means cells; the
            pairs of rows where one row's cell is among the other's ``nprobe`` nearest cells,
            scored exactly) or ``auto`` (exact while ``exact_max_work`` allows).
        exact_max_work: for ``auto``: the most multiply-adds (n^2/2 * dim) done exactly.
        cell_size: for ``ivf``: mean vectors per cell.
        nprobe: for ``ivf``: nearest cells (its own included) each row is compared with.
        pca_dim: for ``ivf``: dimensions the cells are computed in.
        memory_budget: bytes one worker's block of similarities may take.
        max_pairs: more pairs than this raise (a threshold far too loose).
        seed: the random seed of the sampling and k-means.
    """

    strategy: str = "auto"
    exact_max_work: float = DEFAULT_EXACT_MAX_WORK
    cell_size: int = 128
    nprobe: int = 10
    pca_dim: int = 64
    memory_budget: int = DEFAULT_MEMORY_BUDGET
    max_pairs: int = DEFAULT_MAX_PAIRS
    seed: int = 0

    def check(self) -> VectorSearchParams:
        if self.strategy not in STRATEGIES:
            raise InvalidParameter(f"strategy must be one of {', '.join(STRATEGIES)}, got {self.strategy!r}")
        for name, low in (("cell_size", 8), ("nprobe", 1), ("pca_dim", 2), ("max_pairs", 1), ("memory_budget", 2**20)):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < low:
                raise InvalidParameter(f"{name} must be an integer >= {low}, got {value!r}")
        return self

    def chooses_exact(self, n: int, dim: int) -> bool:
        """Whether a self-join of ``n`` vectors runs exactly."""
        if self.strategy != "auto":
            return self.strategy == "exact"
        return n * n / 2 * dim <= self.exact_max_work or n < 8 * self.cell_size


def vector_pairs(
    vectors: np.ndarray,
    min_cosine: float,
    *,
    ok: np.ndarray | None = None,
    partition: np.ndarray | None = None,
    params: VectorSearchParams | None = None,
) -> ImagePairs:
    """Every pair of rows whose vectors have cosine similarity >= ``min_cosine`` (a < b).

    Vectors need not be normalised; rows that are not ``ok``, not finite or all zero are left out.
    The working copy is one float32 matrix of the usable rows (normalised), made block by block.

    Args:
        vectors: (n, d) array (a memmap works: it is read in blocks).
        min_cosine: the similarity threshold.
        ok: (n,) mask of rows to compare.
        partition: (n,) labels; only rows with equal labels are compared.
        params: search strategy and limits.

    Returns:
        The pairs (row numbers of ``vectors``) and their cosine similarity.
    """
    min_cosine = _check_cosine(min_cosine)
    params = (params or VectorSearchParams()).check()
    array = _vectors_matrix(vectors)
    usable = usable_vector_rows(array, ok)
    parts: list[ImagePairs] = []
    total = 0
    for rows in _partition_rows(usable, partition):
        if len(rows) < 2:
            continue
        if params.chooses_exact(len(rows), array.shape[1]):
            found = _exact_self(_normalised(array, rows), min_cosine, params, params.max_pairs - total)
        else:
            found = _ivf_self(array, rows, min_cosine, params, params.max_pairs - total)
        found = ImagePairs(rows[found.a], rows[found.b], found.score)
        total += len(found)
        parts.append(found)
    result = ImagePairs.concat(parts).sorted()
    logger.info("vector pairs at cosine >= %.3f: %d among %d vectors", min_cosine, len(result), int(usable.sum()))
    return result


def _partition_keys(labels: np.ndarray) -> np.ndarray:
    return np.array(
        ["\x00missing" if v is None or (isinstance(v, float) and math.isnan(v)) or v == "" else str(v) for v in labels],
        dtype=object,
    )


def _partition_rows(usable: np.ndarray, partition: np.ndarray | None) -> list[np.ndarray]:
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


def _exact_self(unit: np.ndarray, min_cosine: float, params: VectorSearchParams, room: int) -> ImagePairs:
    """Blocked brute force over the upper triangle of tiles: every pair once."""
    n = len(unit)
    tile = _tile_rows(unit.shape[1], params.memory_budget)
    tasks = [(qs, ds) for qs in range(0, n, tile) for ds in range(qs, n, tile)]

    def run(task: tuple[int, int]) -> ImagePairs:
        qs, ds = task
        q, d, sims = _above(unit[qs : qs + tile], unit[ds : ds + tile], min_cosine)
        q, d = q + qs, d + ds
        keep = d > q
        return ImagePairs(q[keep], d[keep], sims[keep])

    return ImagePairs.concat(_parallel(tasks, run, "exact pair search", room))


def _top_directions(covariance: np.ndarray, k: int, rng: np.random.Generator, iterations: int = 8) -> np.ndarray:
    """The (d, k) leading eigenvectors of a covariance matrix by subspace iteration (no full eigh)."""
    d = covariance.shape[0]
    basis = rng.standard_normal((d, min(d, k + 16)))
    covariance = covariance.astype(np.float64)
    for _ in range(iterations):
        basis, _ = np.linalg.qr(covariance @ basis)
    _, vectors = np.linalg.eigh(basis.T @ covariance @ basis)
    return np.ascontiguousarray((basis @ vectors[:, ::-1][:, :k]).astype(np.float32))


def _cells(array: np.ndarray, rows: np.ndarray, params: VectorSearchParams) -> np.ndarray:
    """Each row's ``nprobe`` nearest cells, nearest first (k-means on a PCA projection): (n, nprobe)."""
    import faiss

    n, dim = len(rows), array.shape[1]
    rng = np.random.default_rng(params.seed)
    n_cells = max(2, n // params.cell_size)
    width = min(params.pca_dim, dim)
    # Small LAPACK calls and k-means are far slower multi-threaded on shared cores (measured).
    with threadpool_limits(limits=1):
        sample = _normalised(array, np.sort(rng.choice(rows, size=min(n, 8192), replace=False)))
        mean = sample.mean(axis=0)
        sample -= mean
        directions = _top_directions(sample.T @ sample, width, rng)
        del sample
        shift = mean @ directions
        projected = np.empty((n, width), dtype=np.float32)
        for start in range(0, n, 8192):
            block = rows[start : start + 8192]
            chunk = np.asarray(array[block], dtype=np.float32)
            # (x / |x| - mean) @ P without a normalised copy of the block.
            norms = np.sqrt(np.einsum("ij,ij->i", chunk, chunk))[:, None]
            projected[start : start + len(block)] = (chunk @ directions) / norms - shift
        # Cells only route pairs to exact scoring: k-means on 32 points a cell is enough. Its cost
        # grows as n^2 / cell_size and dominates from about a million rows.
        training = projected[np.sort(rng.choice(n, size=min(n, n_cells * 32), replace=False))]
        kmeans = faiss.Kmeans(width, n_cells, niter=10, seed=params.seed, max_points_per_centroid=32, min_points_per_centroid=1)
        kmeans.train(np.ascontiguousarray(training))
        k = min(params.nprobe, n_cells)
        starts = range(0, n, 32768)
        probes = np.concatenate(
            [found for _, found in ordered_map(lambda s: kmeans.index.search(projected[s : s + 32768], k)[1], starts, max_workers=_workers())]
        )
    return probes.astype(np.int64)


def _ivf_self(array: np.ndarray, rows: np.ndarray, min_cosine: float, params: VectorSearchParams, room: int) -> ImagePairs:
    """Pairs of rows x, y with y's cell among x's ``nprobe`` nearest cells (or the reverse), scored exactly.

    Each row is a member of its nearest cell and a visitor of its next nearest ones; each cell
    compares its members with one another and with its visitors, by BLAS products of contiguous
    blocks. Returns positions in ``rows``.
    """
    probes = _cells(array, rows, params)
    n_cells = int(probes.max()) + 1
    assignment = probes[:, 0]
    order = np.argsort(assignment, kind="stable")
    bounds = np.searchsorted(assignment[order], np.arange(n_cells + 1))
    # One normalised copy, in cell order, so that each cell is one contiguous block.
    ordered = _normalised(array, rows[order])
    where = np.empty(len(order), dtype=np.int64)
    where[order] = np.arange(len(order))
    # Visitors of each cell, as positions in `ordered`, grouped by cell.
    visited = probes[:, 1:].reshape(-1)
    visitor = np.repeat(where, probes.shape[1] - 1)
    by_cell = np.argsort(visited, kind="stable")
    visited, visitor = visited[by_cell], visitor[by_cell]
    visitor_bounds = np.searchsorted(visited, np.arange(n_cells + 1))
    cap = _tile_rows(array.shape[1], params.memory_budget)

    def run(cell: int) -> ImagePairs:
        start, stop = bounds[cell], bounds[cell + 1]
        if stop == start:
            return ImagePairs.empty()
        guests = visitor[visitor_bounds[cell] : visitor_bounds[cell + 1]]
        found = []
        for ms in range(start, stop, cap):
            members = ordered[ms : min(stop, ms + cap)]
            # Members with one another: the upper triangle of tiles.
            for other in range(ms, stop, cap):
                q, d, sims = _above(members, ordered[other : min(stop, other + cap)], min_cosine)
                q, d = q + ms, d + other
                keep = d > q
                found.append(ImagePairs(q[keep], d[keep], sims[keep]))
            for gs in range(0, len(guests), cap):
                chunk = guests[gs : gs + cap]
                q, d, sims = _above(ordered[chunk], members, min_cosine)
                found.append(ImagePairs(chunk[q], d + ms, sims))
        pairs = ImagePairs.concat(found)
        a_pos, b_pos = order[pairs.a], order[pairs.b]
        return ImagePairs(np.minimum(a_pos, b_pos), np.maximum(a_pos, b_pos), pairs.score)

    found = ImagePairs.concat(_parallel(list(range(n_cells)), run, "cell pair search", room))
    if not len(found):
        return found
    # A pair is found twice when each row visits the other's cell.
    _, first = np.unique(found.a * len(rows) + found.b, return_index=True)
    return ImagePairs(found.a[first], found.b[first], found.score[first])


def vector_cross_pairs(
    queries: np.ndarray,
    base: np.ndarray,
    min_cosine: float,
    *,
    queries_ok: np.ndarray | None = None,
    base_ok: np.ndarray | None = None,
    query_partition: np.ndarray | None = None,
    base_partition: np.ndarray | None = None,
    memory_budget: int = DEFAULT_MEMORY_BUDGET,
    max_pairs: int = DEFAULT_MAX_PAIRS,
) -> ImagePairs:
    """Every (query row, base row) pair with cosine >= ``min_cosine``, by exact blocked search.

    The cost is len(queries) x len(base) x dim: checking a day's new products against a catalogue
    needs no pass over the catalogue's own pairs.
    """
    min_cosine = _check_cosine(min_cosine)
    queries, base = _vectors_matrix(queries, "queries"), _vectors_matrix(base, "base vectors")
    if queries.shape[1] != base.shape[1]:
        raise InvalidParameter(f"new vectors have {queries.shape[1]} dimensions, the catalogue's {base.shape[1]}")
    q_groups = _partition_map(usable_vector_rows(queries, queries_ok), query_partition)
    b_groups = _partition_map(usable_vector_rows(base, base_ok), base_partition)
    tile = _tile_rows(base.shape[1], memory_budget)
    parts: list[ImagePairs] = []
    for key, q_rows in q_groups.items():
        b_rows = b_groups.get(key)
        if b_rows is None or not len(q_rows) or not len(b_rows):
            continue
        q_unit = _normalised(queries, q_rows)

        def run(bs: int, q_unit: np.ndarray = q_unit, q_rows: np.ndarray = q_rows, b_rows: np.ndarray = b_rows) -> ImagePairs:
            b_unit = _normalised(base, b_rows[bs : bs + tile])
            found = []
            for qs in range(0, len(q_rows), tile):
                q, d, sims = _above(q_unit[qs : qs + tile], b_unit, min_cosine)
                found.append(ImagePairs(q_rows[q + qs], b_rows[d + bs], sims))
            return ImagePairs.concat(found)

        parts.extend(_parallel(list(range(0, len(b_rows), tile)), run, "new x catalogue search", max_pairs - sum(map(len, parts))))
    return ImagePairs.concat(parts).sorted()


def _partition_map(usable: np.ndarray, partition: np.ndarray | None) -> dict[str, np.ndarray]:
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


# --------------------------------------------------------------------------- hashes


#: Queries per binary range search call (worst case, every pair a match, is caught by max_pairs).
_HASH_BLOCK = 4096


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


def _centred_thumbs(thumbs: np.ndarray) -> np.ndarray:
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
        ua = _centred_thumbs(ta)
        direct = np.einsum("ij,ij->i", ua, _centred_thumbs(tb))
        mirrored = np.einsum("ij,ij->i", ua, _centred_thumbs(np.ascontiguousarray(tb[:, :, ::-1])))
        best = np.maximum(direct, mirrored)
        flat = ~ua.any(axis=1) | ~_centred_thumbs(tb).any(axis=1)
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
    for rows in _partition_rows(hashes.ok, partition):
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
    q_groups, b_groups = _partition_map(queries.ok, query_partition), _partition_map(base.ok, base_partition)
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
            _guard(total, room, "hash")
    result = ImagePairs.concat(parts, np.int64)
    if self_join and len(result):
        # A pair is found from both of its rows' queries, in two blocks.
        key, first = np.unique(np.stack([result.a, result.b], 1), axis=0, return_index=True)
        result = ImagePairs(key[:, 0], key[:, 1], result.score[first])
    return result


# --------------------------------------------------------------------------- nearest neighbours (verification candidates)


def _top_k(sims: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Per row the column indices and values of its ``k`` largest entries (unordered)."""
    k = min(k, sims.shape[1])
    cols = np.argpartition(-sims, k - 1, axis=1)[:, :k]
    return cols, np.take_along_axis(sims, cols, axis=1)


def vector_neighbours(
    queries: np.ndarray,
    base: np.ndarray,
    k: int,
    min_cosine: float,
    *,
    query_rows: np.ndarray,
    base_rows: np.ndarray,
    self_join: bool = False,
    memory_budget: int = DEFAULT_MEMORY_BUDGET,
) -> ImagePairs:
    """Each query row's ``k`` nearest base rows by cosine (at least ``min_cosine``), by blocked exact search.

    The cost is len(query_rows) x len(base_rows) x dim multiply-adds, in tiles on all cores.
    With ``self_join`` (queries and base index the same rows) a row is not its own neighbour.

    Returns:
        Pairs (a: the query row, b: the base row) with their cosine; a row's neighbours in no order.
    """
    min_cosine = _check_cosine(min_cosine)
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k < 1:
        raise InvalidParameter(f"neighbours must be a positive integer, got {k!r}")
    queries, base = _vectors_matrix(queries, "queries"), _vectors_matrix(base, "base vectors")
    query_rows, base_rows = np.asarray(query_rows, np.int64), np.asarray(base_rows, np.int64)
    if not len(query_rows) or not len(base_rows):
        return ImagePairs.empty()
    base_unit = _normalised(base, base_rows)
    tile = _tile_rows(base.shape[1], memory_budget)
    extra = 1 if self_join else 0

    def run(qs: int) -> ImagePairs:
        rows = query_rows[qs : qs + tile]
        unit = _normalised(queries, rows)
        best_cols = np.zeros((len(rows), 0), np.int64)
        best_sims = np.zeros((len(rows), 0), np.float32)
        for bs in range(0, len(base_rows), tile):
            sims = unit @ base_unit[bs : bs + tile].T
            if self_join:
                sims[rows[:, None] == base_rows[None, bs : bs + tile]] = -np.inf
            cols, values = _top_k(sims, k + extra)
            best_cols = np.concatenate([best_cols, cols + bs], axis=1)
            best_sims = np.concatenate([best_sims, values], axis=1)
            if best_cols.shape[1] > k:
                keep, best_sims = _top_k(best_sims, k)
                best_cols = np.take_along_axis(best_cols, keep, axis=1)
        q = np.repeat(rows, best_cols.shape[1])
        d, s = base_rows[best_cols.reshape(-1)], best_sims.reshape(-1)
        keep = s >= np.float32(min_cosine)
        return ImagePairs(q[keep], d[keep], s[keep])

    return ImagePairs.concat(_parallel(list(range(0, len(query_rows), tile)), run, "neighbour search", DEFAULT_MAX_PAIRS))
