"""The duplicate-product job: ``find_duplicates`` over a catalogue, ``check_new_products`` against an existing one.

Settings and results are in :mod:`street2shop.dedup.params`, files and the step's verdict in
:mod:`street2shop.dedup.outputs`.
"""

from __future__ import annotations

import logging
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from street2shop.dedup.grouping import (
    KeepPolicy,
    ProductTable,
    deduplicated_manifest,
    group_products,
    merge_image_pairs,
    product_pairs,
)
from street2shop.dedup.hashing import ImageHashes, compute_hashes
from street2shop.dedup.candidates import ImagePairs, partition_map, partition_rows
from street2shop.dedup.hash_pairs import centred_thumbs, hash_cross_pairs, hash_distance, hash_pairs
from street2shop.dedup.vector_pairs import usable_vector_rows, vector_cross_pairs, vector_neighbours, vector_pairs
from street2shop.dedup.verify import DIRECT, EITHER, MIRRORED, VerifyParams, verify_pairs
from street2shop.dedup.params import ERROR_COLUMNS, HASHES_FILE, THUMBS_FILE, DedupParams, DedupResult
from street2shop.dedup.report import order_for_review
from street2shop.errors import InvalidParameter, ManifestError
from street2shop.images.decode import DEFAULT_MAX_PIXELS

logger = logging.getLogger(__name__)

# --------------------------------------------------------------------------- inputs


def _read_manifest(manifest: str | Path | pd.DataFrame) -> pd.DataFrame:
    from street2shop.manifest import read_table

    if not isinstance(manifest, pd.DataFrame):
        path = Path(manifest)
        if path.is_file() and path.stat().st_size == 0:
            # An empty file is an empty catalogue, not a broken one.
            return pd.DataFrame({"image": pd.Series(dtype="str"), "product_id": pd.Series(dtype="str")})
    return read_table(manifest)


def _validated(manifest: pd.DataFrame, params: DedupParams) -> tuple[pd.DataFrame, pd.DataFrame]:
    from street2shop.manifest import validate_manifest

    if manifest.empty and not {"image", "product_id"} <= set(manifest.columns):
        manifest = manifest.reindex(columns=["image", "product_id", *manifest.columns])
    check = validate_manifest(manifest)
    rows = check.rows.reset_index(drop=True)
    if params.same_column and params.same_column not in manifest.columns:
        raise ManifestError(f"--same {params.same_column}: the manifest has no column {params.same_column!r}")
    policy = KeepPolicy.parse(params.keep)
    if policy.kind == "priority" and policy.column not in manifest.columns:
        raise ManifestError(f"keep policy priority:{policy.column}: the manifest has no column {policy.column!r}")
    return rows, check.errors


def _aligned_vectors(vectors: np.ndarray | None, ok: np.ndarray | None, n_manifest: int, positions: np.ndarray) -> tuple[np.ndarray | None, np.ndarray | None]:
    """Vectors given per input manifest row, restricted to the validated rows (no copy of the matrix)."""
    if vectors is None:
        return None, None
    array = np.asarray(vectors) if not isinstance(vectors, np.memmap) else vectors
    if array.ndim != 2 or len(array) != n_manifest:
        raise InvalidParameter(
            f"vectors must have one row per manifest row: the manifest has {n_manifest} rows, "
            f"the vectors have shape {tuple(array.shape)}"
        )
    mask = np.ones(n_manifest, bool) if ok is None else np.asarray(ok, bool)
    if len(mask) != n_manifest:
        raise InvalidParameter(f"the vector row mask has {len(mask)} values for {n_manifest} manifest rows")
    return array, mask & np.isin(np.arange(n_manifest), positions)


class _Scorer:
    """Scores arbitrary image pairs for the chaining guard, over one or two row spaces (catalogue + new)."""

    def __init__(self, spaces: list[tuple[np.ndarray | None, np.ndarray | None, ImageHashes | None]]):
        # Each space: (vectors indexed by space row, vector row of each space row, hashes by space row).
        self.spaces = spaces
        self.offsets = np.cumsum([0] + [self._size(s) for s in spaces])

    @staticmethod
    def _size(space: tuple) -> int:
        vectors_rows, hashes = space[1], space[2]
        return len(vectors_rows) if vectors_rows is not None else len(hashes) if hashes is not None else 0

    def _locate(self, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        which = np.searchsorted(self.offsets, rows, side="right") - 1
        return which, rows - self.offsets[which]

    def __call__(self, rows_a: np.ndarray, rows_b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        cosine = np.full(len(rows_a), np.nan)
        hamming = np.full(len(rows_a), -1, dtype=np.int64)
        wa, la = self._locate(np.asarray(rows_a))
        wb, lb = self._locate(np.asarray(rows_b))
        for k in range(len(rows_a)):
            sa, sb = self.spaces[wa[k]], self.spaces[wb[k]]
            if sa[0] is not None and sb[0] is not None:
                ra, rb = sa[1][la[k]], sb[1][lb[k]]
                if ra >= 0 and rb >= 0:
                    va, vb = np.asarray(sa[0][ra], np.float64), np.asarray(sb[0][rb], np.float64)
                    denominator = np.linalg.norm(va) * np.linalg.norm(vb)
                    if denominator > 0 and np.isfinite(denominator):
                        cosine[k] = float(va @ vb / denominator)
            if sa[2] is not None and sb[2] is not None and sa[2].ok[la[k]] and sb[2].ok[lb[k]]:
                hamming[k] = int(hash_distance(sa[2], np.array([la[k]]), sb[2], np.array([lb[k]]))[0])
        return cosine, hamming


def _empty_errors() -> pd.DataFrame:
    return pd.DataFrame({"row": pd.Series(dtype="int64"), "image": pd.Series(dtype="str"), "reason": pd.Series(dtype="str")})


def _collect_errors(*frames: pd.DataFrame) -> pd.DataFrame:
    frames = [f[ERROR_COLUMNS] for f in frames if f is not None and not f.empty]
    if not frames:
        return _empty_errors()
    errors = pd.concat(frames, ignore_index=True)
    errors = errors.groupby("row", sort=True, as_index=False).agg({"image": "first", "reason": lambda r: "; ".join(dict.fromkeys(r))})
    return errors.astype({"row": "int64"})[ERROR_COLUMNS]


def _hashes_for(rows: pd.DataFrame, source: Any, hashes: ImageHashes | None, n_manifest: int, params: DedupParams) -> tuple[ImageHashes, pd.DataFrame]:
    """Hashes of the validated rows: given (one per input manifest row) or computed from the pictures."""
    positions = rows["_row"].to_numpy(dtype=np.int64)
    if hashes is not None:
        if len(hashes) != n_manifest:
            raise InvalidParameter(f"hashes must have one row per manifest row: {len(hashes)} for {n_manifest}")
        taken = hashes.take(positions)
        failed = rows.loc[~taken.ok, ["_row", "image"]].rename(columns={"_row": "row"}).assign(reason="no hash for this picture")
        return taken, failed
    if source is None:
        raise InvalidParameter("hashing needs the pictures: give the image folder")
    computed, errors = compute_hashes(
        source, rows["image"].tolist(), kinds=params.hash_kinds, flip=params.flip,
        thumbnails=params.min_thumb_correlation is not None or params.verify == "geometric", max_pixels=params.max_pixels, max_workers=params.max_workers,
    )
    errors = errors.assign(row=positions[errors["row"].to_numpy(dtype=np.int64)]) if len(errors) else errors
    return computed, errors


def _partition(rows: pd.DataFrame, params: DedupParams) -> np.ndarray | None:
    if not params.same_column:
        return None
    return rows[params.same_column].to_numpy(dtype=object)


def _spread(values: np.ndarray | None, positions: np.ndarray, n: int) -> np.ndarray | None:
    """Per-searched-row values laid out by manifest row (None elsewhere)."""
    if values is None:
        return None
    out = np.full(n, None, dtype=object)
    out[positions] = values
    return out


def _back_map(positions: np.ndarray, n: int) -> np.ndarray:
    """Manifest row -> searched row (-1 for rows not searched)."""
    back = np.full(n, -1, dtype=np.int64)
    back[positions] = np.arange(len(positions))
    return back


def _usable_vectors(
    array: np.ndarray, vec_ok: np.ndarray | None, positions: np.ndarray, rows: pd.DataFrame, method: str
) -> tuple[np.ndarray, np.ndarray, pd.DataFrame | None]:
    """Usable vectors by manifest row and by searched row, and (vectors alone: ``cnn``) the rows without one."""
    full_ok = usable_vector_rows(array, vec_ok)
    row_vec_ok = full_ok[positions]
    if method != "cnn":
        return full_ok, row_vec_ok, None
    errors = rows.loc[~row_vec_ok, ["_row", "image"]].rename(columns={"_row": "row"}).assign(reason="no usable vector for this picture")
    return full_ok, row_vec_ok, errors


# --------------------------------------------------------------------------- geometric verification


@dataclass
class _Search:
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


def _thumb_searches(thumbs: np.ndarray, ok: np.ndarray, blocks: list[tuple[np.ndarray, np.ndarray, bool]]) -> list[_Search]:
    """Direct and mirrored thumbnail searches over space rows (``thumbs`` indexed by space row)."""
    direct, mirrored, usable = _thumb_descriptors(thumbs)
    usable &= ok
    searches = []
    for queries, base, self_join in blocks:
        queries, base = queries[usable[queries]], base[usable[base]]
        for matrix, orientation in ((direct, DIRECT), (mirrored, MIRRORED)):
            searches.append(_Search(matrix, queries, queries, direct, base, base, self_join, orientation))
    return searches


def _candidate_pairs(searches: list[_Search], n_space: int, params: VerifyParams, exclude: list[tuple[np.ndarray, np.ndarray]],
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


def _verify_stage(
    searches: list[_Search] | None,
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
        return None, _empty_errors(), {"verify": "none"}
    if why_not is None and source is None:
        why_not = "no pictures to read"
    if why_not is not None or searches is None:
        logger.warning("geometric verification skipped: %s", why_not)
        return None, _empty_errors(), {"verify": f"skipped: {why_not}"}
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


# --------------------------------------------------------------------------- whole catalogue


def find_duplicates(
    manifest: str | Path | pd.DataFrame,
    *,
    images: Any = None,
    vectors: np.ndarray | None = None,
    vectors_ok: np.ndarray | None = None,
    hashes: ImageHashes | None = None,
    params: DedupParams | None = None,
) -> DedupResult:
    """Find the duplicate products of a catalogue: two products are duplicates when any of their views match.

    Args:
        manifest: one row per image (image, product_id, labels...), a path or a DataFrame.
        images: where the pictures are (a directory, ``s3://`` prefix, image store or ``ImageSource``);
            needed for hashing.
        vectors: (n, d) image vectors, row i for manifest row i (e.g. from an index folder, or
            an .npy file; a memmap works).
        vectors_ok: (n,) mask of the rows whose vector is valid (embedding failures are False).
        hashes: precomputed hashes, row i for manifest row i (skips reading the pictures).
        params: thresholds, method, keep policy...

    Returns:
        The pairs, groups, deduplicated manifest, errors and a summary. An empty manifest, or
        one without duplicates, gives empty tables with their columns.
    """
    params = (params or DedupParams()).check()
    method = params.resolved_method(vectors is not None)
    full = _read_manifest(manifest)
    rows, manifest_errors = _validated(full, params)
    positions = rows["_row"].to_numpy(dtype=np.int64)
    array, vec_ok = _aligned_vectors(vectors, vectors_ok, len(full), positions)
    source = _source(images) if images is not None else None
    partition = _partition(rows, params)
    thresholds = params.thresholds

    image_hashes, hash_errors, hash_found = None, None, None
    if method in ("hash", "both") and len(rows):
        image_hashes, hash_errors = _hashes_for(rows, source, hashes, len(full), params)
        found = hash_pairs(
            image_hashes, params.max_hamming, min_thumb_correlation=params.min_thumb_correlation,
            partition=partition, max_pairs=params.search.max_pairs,
        )
        hash_found = (found.a, found.b, found.score)
    vector_found, vector_errors, row_vec_ok = None, None, None
    if method in ("cnn", "both") and len(rows):
        # Searched in place (no copy of the matrix): rows are manifest rows, mapped back after.
        full_ok, row_vec_ok, vector_errors = _usable_vectors(array, vec_ok, positions, rows, method)
        found = vector_pairs(array, params.min_cosine, ok=full_ok, partition=_spread(partition, positions, len(full)), params=params.search)
        back = _back_map(positions, len(full))
        vector_found = (back[found.a], back[found.b], found.score)

    products = rows["product_id"].astype(str).to_numpy()
    searches, why_not = None, None
    if params.verify == "geometric" and len(rows):
        if method in ("cnn", "both"):
            groups_ = partition_rows(row_vec_ok, partition)
            searches = [_Search(array, positions[g], g, array, positions[g], g, True, EITHER) for g in groups_]
        elif image_hashes is not None and image_hashes.thumbs is not None:
            blocks = [(g, g, True) for g in partition_rows(image_hashes.ok, partition)]
            searches = _thumb_searches(image_hashes.thumbs, image_hashes.ok, blocks)
        else:
            why_not = "the hashes have no colour thumbnails"
    exclude = [(found[0], found[1]) for found in (hash_found, vector_found) if found is not None]
    verified, verify_errors, verify_info = _verify_stage(
        searches, images=rows["image"].astype(str).to_numpy(), products=products, exclude=exclude, source=source,
        params=params, why_not=why_not,
    )
    if len(verify_errors):
        verify_errors = verify_errors.assign(row=positions[verify_errors["row"].to_numpy(dtype=np.int64)])
    errors = _collect_errors(manifest_errors, hash_errors, vector_errors, verify_errors)

    image_pairs = merge_image_pairs(vector_found, hash_found, thresholds, verified)
    pairs = product_pairs(image_pairs, products, rows["image"].astype(str).to_numpy())
    usable = np.zeros(len(rows), bool)
    if image_hashes is not None:
        usable |= image_hashes.ok
    if row_vec_ok is not None:
        usable |= row_vec_ok
    policy = KeepPolicy.parse(params.keep)
    table = ProductTable.from_manifest(rows, usable, policy)
    scorer = _Scorer([(
        array if method != "hash" else None,
        (np.where(row_vec_ok, positions, -1) if row_vec_ok is not None else None),
        image_hashes,
    )])
    groups, pairs = group_products(pairs, table, policy, thresholds, scorer)
    pairs = order_for_review(pairs, groups)
    deduplicated = deduplicated_manifest(full, groups)
    summary = _summary(
        method, params, images=len(full), searched=int(usable.sum()), errors=errors, image_pairs=len(image_pairs),
        pairs=pairs, groups=groups, kept=len(deduplicated), **verify_info,
    )
    return DedupResult(pairs, groups, deduplicated, errors, image_hashes, rows, summary)


def _source(images: Any) -> Any:
    from street2shop.index.build import image_source

    return image_source(images)


def _summary(method: str, params: DedupParams, *, images: int, searched: int, errors: pd.DataFrame, image_pairs: int,
             pairs: pd.DataFrame, groups: pd.DataFrame, kept: int, top: int = 10, **extra: Any) -> dict:
    flagged = int(groups.loc[groups["flagged"], "group_id"].nunique()) if len(groups) else 0
    dropped = int((~groups["keep"].astype(bool)).sum()) if len(groups) else 0
    top_pairs = [
        {
            "product_a": str(r.product_a), "product_b": str(r.product_b), "image_a": str(r.image_a),
            "image_b": str(r.image_b), "similarity": round(float(r.similarity), 4), "method": str(r.method),
        }
        for r in pairs.sort_values("margin", ascending=False, kind="stable").head(top).itertuples()
    ]
    summary = {
        "method": method,
        "min_cosine": params.min_cosine if method in ("cnn", "both") else None,
        "max_hamming": int(params.max_hamming) if method in ("hash", "both") else None,
        "hash_kinds": list(params.hash_kinds) if method in ("hash", "both") else None,
        "same_column": params.same_column,
        "keep": params.keep,
        "images": int(images),
        "images_searched": int(searched),
        "errors": int(len(errors)),
        "image_pairs": int(image_pairs),
        "pairs": int(len(pairs)),
        "groups": int(groups["group_id"].nunique()) if len(groups) else 0,
        "flagged_groups": flagged,
        "products_dropped": dropped,
        "manifest_rows_kept": int(kept),
        "top_pairs": top_pairs,
    }
    summary.update(extra)
    return summary


# --------------------------------------------------------------------------- calibration

DEFAULT_COSINE_SWEEP = tuple(round(0.8 + 0.01 * k, 2) for k in range(20))
DEFAULT_HAMMING_SWEEP = tuple(range(0, 17))


def hashes_by_manifest_row(result: DedupResult, n_manifest: int) -> ImageHashes | None:
    """A result's hashes laid out one per input manifest row (rows never hashed are not ok)."""
    hashes = result.hashes
    if hashes is None:
        return None
    positions = result.items["_row"].to_numpy(dtype=np.int64)
    width = len(hashes.kinds)
    codes = np.zeros((n_manifest, width), np.uint64)
    codes[positions] = hashes.codes
    mirrored = None
    if hashes.mirrored is not None:
        mirrored = np.zeros((n_manifest, width), np.uint64)
        mirrored[positions] = hashes.mirrored
    thumbs = None
    if hashes.thumbs is not None:
        thumbs = np.zeros((n_manifest, *hashes.thumbs.shape[1:]), np.uint8)
        thumbs[positions] = hashes.thumbs
    ok = np.zeros(n_manifest, bool)
    ok[positions] = hashes.ok
    return ImageHashes(hashes.kinds, codes, mirrored, ok, thumbs)


def calibrate_thresholds(
    manifest: str | Path | pd.DataFrame,
    truth: pd.DataFrame,
    *,
    images: Any = None,
    vectors: np.ndarray | None = None,
    vectors_ok: np.ndarray | None = None,
    hashes: ImageHashes | None = None,
    params: DedupParams | None = None,
    cosines: tuple[float, ...] = DEFAULT_COSINE_SWEEP,
    hammings: tuple[int, ...] = DEFAULT_HAMMING_SWEEP,
    min_precision: float | None = None,
) -> tuple[pd.DataFrame, dict]:
    """Precision, recall and F1 of each method over thresholds, and the threshold to use.

    Each method searches once at its loosest threshold; the product pairs' best scores are then
    swept. ``truth`` holds product pairs (product_a, product_b). With a ``label`` column (1: the
    same product, 0: distinct) only those pairs are judged; without it they are planted
    duplicates and every other pair found counts as a false positive.

    Returns:
        (sweep table: method + threshold, predicted, true/false positives, false negatives,
        precision, recall, f1; {method: recommended row}).
    """
    from street2shop.dedup.calibration import recommend_threshold, sweep_planted, sweep_thresholds

    params = (params or DedupParams()).check()
    missing = [c for c in ("product_a", "product_b") if c not in truth.columns]
    if missing:
        raise ManifestError(f"the calibration pairs need columns product_a and product_b; missing: {', '.join(missing)}")
    labelled = "label" in truth.columns
    full = _read_manifest(manifest)
    methods = [m for m, usable in (("hash", images is not None or hashes is not None), ("cnn", vectors is not None)) if usable]
    if not methods:
        raise InvalidParameter("calibration needs the pictures (for hashes) or vectors")
    tables, recommended = [], {}
    for method in methods:
        if method == "hash":
            run = DedupParams(**{**params.__dict__, "method": "hash", "max_hamming": int(max(hammings)), "verify": "none"})
            thresholds, column, higher = list(hammings), "hamming", False
        else:
            run = DedupParams(**{**params.__dict__, "method": "cnn", "min_cosine": float(min(cosines)), "verify": "none"})
            thresholds, column, higher = list(cosines), "cosine", True
        result = find_duplicates(full, images=images, vectors=vectors, vectors_ok=vectors_ok, hashes=hashes, params=run)
        if method == "hash" and hashes is None:
            hashes = hashes_by_manifest_row(result, len(full))
        found = result.pairs[["product_a", "product_b", column]]
        if labelled:
            labels = {}
            for a, b, label in zip(truth["product_a"], truth["product_b"], truth["label"]):
                key = tuple(sorted((str(a), str(b))))
                labels[key] = str(label).strip().lower() in ("1", "true", "yes")
            best = {tuple(sorted((str(a), str(b)))): score for a, b, score in zip(found["product_a"], found["product_b"], found[column])}
            judged = [(best[key], label) for key, label in labels.items() if key in best]
            missed = sum(1 for key, label in labels.items() if label and key not in best)
            scores = np.array([score for score, _ in judged], dtype=np.float64)
            flags = np.array([label for _, label in judged], dtype=bool)
            sweep = sweep_thresholds(scores, flags, thresholds, higher_is_similar=higher, missed_positives=missed)
        else:
            sweep = sweep_planted(found, truth, thresholds, score_column=column, higher_is_similar=higher)
        sweep.insert(0, "method", method)
        tables.append(sweep)
        recommended[method] = recommend_threshold(sweep.drop(columns="method"), min_precision=min_precision, higher_is_similar=higher)
    return pd.concat(tables, ignore_index=True), recommended


# --------------------------------------------------------------------------- incremental


@dataclass
class Catalogue:
    """An existing catalogue's searchable features, one row per image.

    Attributes:
        items: image, product_id and other manifest columns.
        vectors: (n, d) vectors (or None); rows without one are False in ``vectors_ok``.
        vectors_ok: (n,) mask.
        hashes: the pictures' hashes (or None).
        index_dir: where the index the vectors come from is (its encoders embed new pictures alike).
    """

    items: pd.DataFrame
    vectors: np.ndarray | None = None
    vectors_ok: np.ndarray | None = None
    hashes: ImageHashes | None = None
    index_dir: Any = None


def load_catalogue(*locations: Any) -> Catalogue:
    """The features of an existing catalogue from index folders (vectors) and/or dedup outputs (hashes).

    Several locations (local folders or DSS managed folders) are merged by ``image``: an index
    folder from ``embed`` for the vectors and the previous dedup output for the hashes, typically.
    """
    from street2shop.storage.stores import open_published

    if not locations:
        raise InvalidParameter("an existing catalogue needs at least one folder (an index or a dedup output)")
    with tempfile.TemporaryDirectory(prefix="street2shop-catalogue-") as scratch:
        folders = [Path(open_published(loc).materialize(Path(scratch) / str(k))) for k, loc in enumerate(locations)]
        return _load_catalogue(folders, index_location=next((loc for loc, f in zip(locations, folders) if (f / "index.json").is_file()), None))


def _load_catalogue(folders: list[Path], index_location: Any) -> Catalogue:
    vectors_part = hashes_part = None
    index_dir = index_location
    for folder in folders:
        if (folder / "index.json").is_file():
            vectors_part = index_vectors(folder)
        elif (folder / HASHES_FILE).is_file():
            table = pd.read_csv(folder / HASHES_FILE, dtype=str, keep_default_na=False)
            thumbs = np.load(folder / THUMBS_FILE, allow_pickle=False) if (folder / THUMBS_FILE).is_file() else None
            hashes = ImageHashes.from_frame(table, thumbs)
            hashes_part = (table[["image", "product_id"]], hashes)
        else:
            raise InvalidParameter(f"{folder} is neither an index folder (index.json) nor a dedup output ({HASHES_FILE})")
    frames = [part[0][["image", "product_id"]] for part in (vectors_part, hashes_part) if part is not None]
    items = pd.concat(frames, ignore_index=True).drop_duplicates("image").reset_index(drop=True)
    if vectors_part is not None:
        extra = vectors_part[0].drop(columns=[c for c in ("product_id",) if c in vectors_part[0]]).drop_duplicates("image")
        items = items.merge(extra, on="image", how="left")
    position = {image: k for k, image in enumerate(items["image"])}
    catalogue = Catalogue(items=items, index_dir=index_dir)
    if vectors_part is not None:
        source_items, vectors = vectors_part
        where = np.array([position[i] for i in source_items["image"]], dtype=np.int64)
        full = np.zeros((len(items), vectors.shape[1]), np.float32)
        ok = np.zeros(len(items), bool)
        full[where], ok[where] = vectors, True
        catalogue.vectors, catalogue.vectors_ok = full, ok
    if hashes_part is not None:
        source_items, hashes = hashes_part
        where = np.array([position[i] for i in source_items["image"]], dtype=np.int64)
        width = len(hashes.kinds)
        codes = np.zeros((len(items), width), np.uint64)
        mirrored = np.zeros((len(items), width), np.uint64) if hashes.mirrored is not None else None
        ok = np.zeros(len(items), bool)
        codes[where], ok[where] = hashes.codes, hashes.ok
        if mirrored is not None:
            mirrored[where] = hashes.mirrored
        thumbs = None
        if hashes.thumbs is not None:
            thumbs = np.zeros((len(items), *hashes.thumbs.shape[1:]), np.uint8)
            thumbs[where] = hashes.thumbs
        catalogue.hashes = ImageHashes(hashes.kinds, codes, mirrored, ok, thumbs)
    return catalogue


def index_vectors(folder: str | Path) -> tuple[pd.DataFrame, np.ndarray]:
    """The item table and the (n, d) vectors stored in an index folder made by ``embed``."""
    from street2shop.index.folder import read_index_info, read_items, read_vectors

    folder = Path(folder)
    info = read_index_info(folder)
    items = read_items(folder)
    index = read_vectors(folder, info).index_
    if hasattr(index, "make_direct_map"):
        index.make_direct_map()
    vectors = index.reconstruct_n(0, index.ntotal)
    return items.reset_index(drop=True), np.asarray(vectors, np.float32)


def embed_like_index(
    index_dir: str | Path, manifest: pd.DataFrame, images: Any, *, batch_size: int = 32, max_pixels: int = DEFAULT_MAX_PIXELS
) -> tuple[np.ndarray, np.ndarray]:
    """Vectors of the manifest's pictures made by the encoders bundled in an index folder.

    New products are embedded exactly as the catalogue was, so their vectors compare with the
    index's. Returns one row per manifest row and the mask of rows that could be embedded.
    """
    from street2shop.index.search import SearchIndex

    embedder = SearchIndex.load(index_dir).embedder
    result = embedder.embed_source(_source(images), manifest["image"].astype(str).tolist(), batch_size=batch_size, max_pixels=max_pixels)
    vectors = np.zeros((len(manifest), embedder.dim), np.float32)
    ok = np.zeros(len(manifest), bool)
    vectors[result.rows], ok[result.rows] = result.vectors, True
    return vectors, ok


def vectors_for_manifest(manifest: pd.DataFrame, items: pd.DataFrame, vectors: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Vectors of an index folder laid out by manifest row (matched on ``image``), and the mask of rows found."""
    position = {image: k for k, image in enumerate(items["image"].astype(str))}
    where = np.array([position.get(str(image), -1) for image in manifest["image"]], dtype=np.int64)
    found = where >= 0
    out = np.zeros((len(manifest), vectors.shape[1]), np.float32)
    out[found] = vectors[where[found]]
    return out, found


def check_new_products(
    new_manifest: str | Path | pd.DataFrame,
    catalogue: Catalogue,
    *,
    images: Any = None,
    vectors: np.ndarray | None = None,
    vectors_ok: np.ndarray | None = None,
    hashes: ImageHashes | None = None,
    params: DedupParams | None = None,
) -> DedupResult:
    """Check new products against an existing catalogue, without searching the catalogue's own pairs.

    Pairs are new x catalogue and new x new; the catalogue's features (vectors, hashes) are
    reused as they are. ``auto`` uses vectors when both sides have them (see
    :func:`embed_like_index`), hashes when the catalogue has them. Groups may hold catalogue products; ``manifest`` is the new manifest
    without the new products that are not kept (with ``first_seen`` the catalogue's product is
    always the one kept).

    Args:
        new_manifest: the new products' rows.
        catalogue: from :func:`load_catalogue`.
        images: where the new pictures are (for hashing), and the catalogue's (for geometric verification).
        vectors, vectors_ok: the new rows' vectors, one per new manifest row.
        hashes: the new rows' precomputed hashes.
        params: as for :func:`find_duplicates`.
    """
    params = (params or DedupParams()).check()
    has_vectors = vectors is not None and catalogue.vectors is not None
    if params.method == "auto":
        method = ("both" if catalogue.hashes is not None else "cnn") if has_vectors else "hash"
    else:
        method = params.resolved_method(has_vectors)
    if method in ("hash", "both") and catalogue.hashes is None:
        raise InvalidParameter("the catalogue has no hashes: give the dedup output folder of an earlier run")
    full = _read_manifest(new_manifest)
    rows, manifest_errors = _validated(full, params)
    positions = rows["_row"].to_numpy(dtype=np.int64)
    array, vec_ok = _aligned_vectors(vectors, vectors_ok, len(full), positions)
    source = _source(images) if images is not None else None
    items = catalogue.items.reset_index(drop=True)
    if params.same_column and params.same_column not in items.columns:
        raise ManifestError(f"--same {params.same_column}: the catalogue's items have no column {params.same_column!r}")
    new_part = _partition(rows, params)
    old_part = items[params.same_column].to_numpy(dtype=object) if params.same_column else None
    offset = len(items)
    thresholds = params.thresholds
    budget, cap = params.search.memory_budget, params.search.max_pairs

    def shifted(found: ImagePairs, *, cross: bool) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        # Combined row space: catalogue rows first, then the new rows.
        if cross:
            a, b = found.b, found.a + offset
        else:
            a, b = found.a + offset, found.b + offset
        return a, b, found.score

    image_hashes, hash_errors, hash_found = None, None, None
    if method in ("hash", "both") and len(rows):
        image_hashes, hash_errors = _hashes_for(rows, source, hashes, len(full), params)
        if image_hashes.kinds != catalogue.hashes.kinds or (image_hashes.mirrored is None) != (catalogue.hashes.mirrored is None):
            raise InvalidParameter(
                f"the catalogue was hashed with {catalogue.hashes.kinds} (mirrored: {catalogue.hashes.mirrored is not None}); "
                f"use the same hash kinds and flip setting"
            )
        correlation = params.min_thumb_correlation
        cross = hash_cross_pairs(image_hashes, catalogue.hashes, params.max_hamming, min_thumb_correlation=correlation,
                                 query_partition=new_part, base_partition=old_part, max_pairs=cap)
        own = hash_pairs(image_hashes, params.max_hamming, min_thumb_correlation=correlation, partition=new_part, max_pairs=cap)
        parts = [shifted(cross, cross=True), shifted(own, cross=False)]
        hash_found = tuple(np.concatenate([p[k] for p in parts]) for k in range(3))
    vector_found, vector_errors, row_vec_ok = None, None, None
    if method in ("cnn", "both") and len(rows):
        full_ok, row_vec_ok, vector_errors = _usable_vectors(array, vec_ok, positions, rows, method)
        spread, back = _spread(new_part, positions, len(full)), _back_map(positions, len(full))
        cross = vector_cross_pairs(array, catalogue.vectors, params.min_cosine, queries_ok=full_ok, base_ok=catalogue.vectors_ok,
                                   query_partition=spread, base_partition=old_part, memory_budget=budget, max_pairs=cap)
        own = vector_pairs(array, params.min_cosine, ok=full_ok, partition=spread, params=params.search)
        cross = ImagePairs(back[cross.a], cross.b, cross.score)
        own = ImagePairs(back[own.a], back[own.b], own.score)
        parts = [shifted(cross, cross=True), shifted(own, cross=False)]
        vector_found = tuple(np.concatenate([p[k] for p in parts]) for k in range(3))

    combined = pd.concat(
        [items[["image", "product_id"]].astype(str), rows[["image", "product_id"]].astype(str)], ignore_index=True
    )
    # Verification candidates: new x catalogue and new x new, in the combined row space.
    searches, why_not = None, None
    if params.verify == "geometric" and len(rows):
        new_space = np.arange(len(rows)) + offset
        if method in ("cnn", "both"):
            new_groups = partition_map(row_vec_ok, new_part)
            old_groups = partition_map(usable_vector_rows(catalogue.vectors, catalogue.vectors_ok), old_part)
            searches = []
            for key, g in new_groups.items():
                searches.append(_Search(array, positions[g], new_space[g], array, positions[g], new_space[g], True, EITHER))
                if key in old_groups:
                    old = old_groups[key]
                    searches.append(_Search(array, positions[g], new_space[g], catalogue.vectors, old, old, False, EITHER))
        elif image_hashes is not None and image_hashes.thumbs is not None and catalogue.hashes.thumbs is not None:
            thumbs = np.concatenate([catalogue.hashes.thumbs, image_hashes.thumbs])
            ok = np.concatenate([catalogue.hashes.ok, image_hashes.ok])
            new_groups = partition_map(image_hashes.ok, new_part)
            old_groups = partition_map(catalogue.hashes.ok, old_part)
            blocks = []
            for key, g in new_groups.items():
                blocks.append((g + offset, g + offset, True))
                if key in old_groups:
                    blocks.append((g + offset, old_groups[key], False))
            searches = _thumb_searches(thumbs, ok, blocks)
        else:
            why_not = "the hashes have no colour thumbnails"
    exclude = [(found[0], found[1]) for found in (hash_found, vector_found) if found is not None]
    verified, verify_errors, verify_info = _verify_stage(
        searches, images=combined["image"].to_numpy(), products=combined["product_id"].to_numpy(), exclude=exclude,
        source=source, params=params, why_not=why_not,
    )
    if len(verify_errors):
        # Catalogue pictures that cannot be read are logged by the verification, not reported as new rows.
        verify_errors = verify_errors[verify_errors["row"] >= offset]
        verify_errors = verify_errors.assign(row=positions[verify_errors["row"].to_numpy(dtype=np.int64) - offset])
    errors = _collect_errors(manifest_errors, hash_errors, vector_errors, verify_errors)
    policy = KeepPolicy.parse(params.keep)
    if policy.kind == "priority":
        if policy.column not in items.columns:
            raise ManifestError(f"keep policy priority:{policy.column}: the catalogue's items have no column {policy.column!r}")
        combined[policy.column] = pd.concat([items[policy.column], rows[policy.column]], ignore_index=True)
    image_pairs = merge_image_pairs(vector_found, hash_found, thresholds, verified)
    pairs = product_pairs(image_pairs, combined["product_id"].to_numpy(), combined["image"].to_numpy())
    usable = np.zeros(len(combined), bool)
    if catalogue.hashes is not None and image_hashes is not None:
        usable[:offset] |= catalogue.hashes.ok
        usable[offset:] |= image_hashes.ok
    if row_vec_ok is not None:
        usable[:offset] |= catalogue.vectors_ok
        usable[offset:] |= row_vec_ok
    table = ProductTable.from_manifest(combined, usable, policy)
    use_vectors = method != "hash"
    scorer = _Scorer([
        (catalogue.vectors if use_vectors else None,
         np.where(catalogue.vectors_ok, np.arange(offset), -1) if use_vectors else None,
         catalogue.hashes if image_hashes is not None else None),
        (array if use_vectors else None,
         np.where(row_vec_ok, positions, -1) if use_vectors and row_vec_ok is not None else None,
         image_hashes),
    ])
    groups, pairs = group_products(pairs, table, policy, thresholds, scorer)
    pairs = order_for_review(pairs, groups)
    new_products = set(rows["product_id"].astype(str))
    dropped_new = set(groups.loc[~groups["keep"].astype(bool) & groups["product_id"].isin(new_products), "product_id"])
    deduplicated = full[~full["product_id"].astype(str).isin(dropped_new)].reset_index(drop=True) if len(full) else full
    usable_new = int(usable[offset:].sum())
    summary = _summary(
        method, params, images=len(full), searched=usable_new, errors=errors, image_pairs=len(image_pairs),
        pairs=pairs, groups=groups, kept=len(deduplicated), incremental=True, catalogue_images=int(offset),
        new_products_dropped=len(dropped_new), **verify_info,
    )
    return DedupResult(pairs, groups, deduplicated, errors, image_hashes, rows, summary)
