"""Find the duplicate products of a whole catalogue: ``find_duplicates``.

Settings and results are in :mod:`street2shop.dedup.params`, files and the step's verdict in
:mod:`street2shop.dedup.outputs`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from street2shop.dedup.candidates import partition_rows
from street2shop.dedup.grouping import KeepPolicy, ProductTable, deduplicated_manifest, group_products, merge_image_pairs, product_pairs
from street2shop.dedup.hash_pairs import hash_pairs
from street2shop.dedup.hashing import ImageHashes
from street2shop.dedup.params import DedupParams, DedupResult
from street2shop.dedup.report import order_for_review
from street2shop.dedup.stages import (
    ImagePairScorer,
    aligned_vectors,
    collect_errors,
    hashes_for_rows,
    partition_labels,
    read_manifest,
    run_summary,
    searched_row_map,
    spread_by_row,
    usable_vectors,
    validated_rows,
)
from street2shop.dedup.vector_pairs import vector_pairs
from street2shop.dedup.verify import EITHER
from street2shop.dedup.verify_stage import NeighbourSearch, thumbnail_searches, verify_stage
from street2shop.storage.stores import image_source


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
    full = read_manifest(manifest)
    rows, manifest_errors = validated_rows(full, params)
    positions = rows["_row"].to_numpy(dtype=np.int64)
    array, vec_ok = aligned_vectors(vectors, vectors_ok, len(full), positions)
    source = image_source(images) if images is not None else None
    partition = partition_labels(rows, params)
    thresholds = params.thresholds

    image_hashes, hash_errors, hash_found = None, None, None
    if method in ("hash", "both") and len(rows):
        image_hashes, hash_errors = hashes_for_rows(rows, source, hashes, len(full), params)
        found = hash_pairs(
            image_hashes, params.max_hamming, min_thumb_correlation=params.min_thumb_correlation,
            partition=partition, max_pairs=params.search.max_pairs,
        )
        hash_found = (found.a, found.b, found.score)
    vector_found, vector_errors, row_vec_ok = None, None, None
    if method in ("cnn", "both") and len(rows):
        # Searched in place (no copy of the matrix): rows are manifest rows, mapped back after.
        full_ok, row_vec_ok, vector_errors = usable_vectors(array, vec_ok, positions, rows, method)
        found = vector_pairs(array, params.min_cosine, ok=full_ok, partition=spread_by_row(partition, positions, len(full)), params=params.search)
        back = searched_row_map(positions, len(full))
        vector_found = (back[found.a], back[found.b], found.score)

    products = rows["product_id"].astype(str).to_numpy()
    searches, why_not = None, None
    if params.verify == "geometric" and len(rows):
        if method in ("cnn", "both"):
            groups_ = partition_rows(row_vec_ok, partition)
            searches = [NeighbourSearch(array, positions[g], g, array, positions[g], g, True, EITHER) for g in groups_]
        elif image_hashes is not None and image_hashes.thumbs is not None:
            blocks = [(g, g, True) for g in partition_rows(image_hashes.ok, partition)]
            searches = thumbnail_searches(image_hashes.thumbs, image_hashes.ok, blocks)
        else:
            why_not = "the hashes have no colour thumbnails"
    exclude = [(found[0], found[1]) for found in (hash_found, vector_found) if found is not None]
    verified, verify_errors, verify_info = verify_stage(
        searches, images=rows["image"].astype(str).to_numpy(), products=products, exclude=exclude, source=source,
        params=params, why_not=why_not,
    )
    if len(verify_errors):
        verify_errors = verify_errors.assign(row=positions[verify_errors["row"].to_numpy(dtype=np.int64)])
    errors = collect_errors(manifest_errors, hash_errors, vector_errors, verify_errors)

    image_pairs = merge_image_pairs(vector_found, hash_found, thresholds, verified)
    pairs = product_pairs(image_pairs, products, rows["image"].astype(str).to_numpy())
    usable = np.zeros(len(rows), bool)
    if image_hashes is not None:
        usable |= image_hashes.ok
    if row_vec_ok is not None:
        usable |= row_vec_ok
    policy = KeepPolicy.parse(params.keep)
    table = ProductTable.from_manifest(rows, usable, policy)
    scorer = ImagePairScorer([(
        array if method != "hash" else None,
        (np.where(row_vec_ok, positions, -1) if row_vec_ok is not None else None),
        image_hashes,
    )])
    groups, pairs = group_products(pairs, table, policy, thresholds, scorer)
    pairs = order_for_review(pairs, groups)
    deduplicated = deduplicated_manifest(full, groups)
    summary = run_summary(
        method, params, images=len(full), searched=int(usable.sum()), errors=errors, image_pairs=len(image_pairs),
        pairs=pairs, groups=groups, kept=len(deduplicated), **verify_info,
    )
    return DedupResult(pairs, groups, deduplicated, errors, image_hashes, rows, summary)
