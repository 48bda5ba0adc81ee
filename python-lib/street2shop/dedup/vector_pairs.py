"""Candidate duplicate pairs by vector: cosine range search (exact blocked, or IVF cells), new x catalogue
search, and each picture's nearest neighbours (the geometric verification's candidates)."""

from __future__ import annotations

import logging
import math
import os
from dataclasses import dataclass

import numpy as np
from threadpoolctl import threadpool_limits

from street2shop.dedup.candidates import DEFAULT_MAX_PAIRS, ImagePairs, check_pair_count, partition_map, partition_rows
from street2shop.errors import InvalidParameter
from street2shop.progress import Progress
from street2shop.storage.stores import ordered_map

logger = logging.getLogger(__name__)


STRATEGIES = ("auto", "exact", "ivf")

#: ``auto`` searches exactly while n * n / 2 * dim multiply-adds stay under this (~15 s on 2 cores).
DEFAULT_EXACT_MAX_WORK = 1.0e12

#: Bytes one worker's block of similarities may take (float32 scores, and as many results at worst).
DEFAULT_MEMORY_BUDGET = 64 * 2**20


# --------------------------------------------------------------------------- helpers


def _check_cosine(min_cosine: float) -> float:
    if isinstance(min_cosine, bool) or not isinstance(min_cosine, (int, float)) or math.isnan(min_cosine) or not -1.0 <= float(min_cosine) <= 1.0:
        raise InvalidParameter(f"min_cosine must be a number in [-1, 1], got {min_cosine!r}")
    return float(min_cosine)


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
            check_pair_count(total, room, "vector")
            progress.update()
    return results


def _above(queries: np.ndarray, base: np.ndarray, min_cosine: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(query index, base index, cosine) of every pair of unit rows with cosine >= min_cosine."""
    sims = queries @ base.T
    q, b = np.nonzero(sims >= np.float32(min_cosine))
    return q.astype(np.int64), b.astype(np.int64), sims[q, b]


# --------------------------------------------------------------------------- range search


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
    for rows in partition_rows(usable, partition):
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
    q_groups = partition_map(usable_vector_rows(queries, queries_ok), query_partition)
    b_groups = partition_map(usable_vector_rows(base, base_ok), base_partition)
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
