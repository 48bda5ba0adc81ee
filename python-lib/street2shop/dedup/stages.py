"""The stages both dedup runs (whole catalogue, new products against a catalogue) are made of.

Read and validate the manifest, lay the given vectors and hashes out by searched row, gather the
errors by manifest row, score any image pair for the chaining guard, and summarise a run.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from street2shop.dedup.grouping import KeepPolicy
from street2shop.dedup.hash_pairs import hash_distance
from street2shop.dedup.hashing import ImageHashes, compute_hashes
from street2shop.dedup.params import ERROR_COLUMNS, DedupParams
from street2shop.dedup.vector_pairs import usable_vector_rows
from street2shop.errors import InvalidParameter, ManifestError


# --------------------------------------------------------------------------- inputs


def read_manifest(manifest: str | Path | pd.DataFrame) -> pd.DataFrame:
    """A manifest from a path or a DataFrame; an empty file is an empty manifest."""
    from street2shop.manifest import read_table

    if not isinstance(manifest, pd.DataFrame):
        path = Path(manifest)
        if path.is_file() and path.stat().st_size == 0:
            # An empty file is an empty catalogue, not a broken one.
            return pd.DataFrame({"image": pd.Series(dtype="str"), "product_id": pd.Series(dtype="str")})
    return read_table(manifest)


def validated_rows(manifest: pd.DataFrame, params: DedupParams) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The manifest's valid rows (``_row``: their manifest row) and its row errors; checks the ``--same`` and keep columns."""
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


def aligned_vectors(vectors: np.ndarray | None, ok: np.ndarray | None, n_manifest: int, positions: np.ndarray) -> tuple[np.ndarray | None, np.ndarray | None]:
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


def hashes_for_rows(rows: pd.DataFrame, source: Any, hashes: ImageHashes | None, n_manifest: int, params: DedupParams) -> tuple[ImageHashes, pd.DataFrame]:
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


def partition_labels(rows: pd.DataFrame, params: DedupParams) -> np.ndarray | None:
    """The ``--same`` column's value of each searched row (None without ``--same``)."""
    if not params.same_column:
        return None
    return rows[params.same_column].to_numpy(dtype=object)


def spread_by_row(values: np.ndarray | None, positions: np.ndarray, n: int) -> np.ndarray | None:
    """Per-searched-row values laid out by manifest row (None elsewhere)."""
    if values is None:
        return None
    out = np.full(n, None, dtype=object)
    out[positions] = values
    return out


def searched_row_map(positions: np.ndarray, n: int) -> np.ndarray:
    """Manifest row -> searched row (-1 for rows not searched)."""
    back = np.full(n, -1, dtype=np.int64)
    back[positions] = np.arange(len(positions))
    return back


def usable_vectors(
    array: np.ndarray, vec_ok: np.ndarray | None, positions: np.ndarray, rows: pd.DataFrame, method: str
) -> tuple[np.ndarray, np.ndarray, pd.DataFrame | None]:
    """Usable vectors by manifest row and by searched row, and (vectors alone: ``cnn``) the rows without one."""
    full_ok = usable_vector_rows(array, vec_ok)
    row_vec_ok = full_ok[positions]
    if method != "cnn":
        return full_ok, row_vec_ok, None
    errors = rows.loc[~row_vec_ok, ["_row", "image"]].rename(columns={"_row": "row"}).assign(reason="no usable vector for this picture")
    return full_ok, row_vec_ok, errors


# --------------------------------------------------------------------------- errors


def empty_errors() -> pd.DataFrame:
    """An errors table with no rows (row, image, reason)."""
    return pd.DataFrame({"row": pd.Series(dtype="int64"), "image": pd.Series(dtype="str"), "reason": pd.Series(dtype="str")})


def collect_errors(*frames: pd.DataFrame) -> pd.DataFrame:
    """The errors of every stage, one row per manifest row (reasons joined by '; '), sorted by row."""
    frames = [f[ERROR_COLUMNS] for f in frames if f is not None and not f.empty]
    if not frames:
        return empty_errors()
    errors = pd.concat(frames, ignore_index=True)
    errors = errors.groupby("row", sort=True, as_index=False).agg({"image": "first", "reason": lambda r: "; ".join(dict.fromkeys(r))})
    return errors.astype({"row": "int64"})[ERROR_COLUMNS]


# --------------------------------------------------------------------------- scoring and summary


class ImagePairScorer:
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


def run_summary(method: str, params: DedupParams, *, images: int, searched: int, errors: pd.DataFrame, image_pairs: int,
             pairs: pd.DataFrame, groups: pd.DataFrame, kept: int, top: int = 10, **extra: Any) -> dict:
    """The run's summary.json: settings, counts and the top pairs (``extra``: mode-specific entries)."""
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
