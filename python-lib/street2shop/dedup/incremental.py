"""Check new products against an existing catalogue: ``check_new_products``, without searching the
catalogue's own pairs (new x catalogue and new x new)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from street2shop.dedup.candidates import ImagePairs, partition_map
from street2shop.dedup.catalogue import Catalogue
from street2shop.dedup.grouping import KeepPolicy, ProductTable, group_products, merge_image_pairs, product_pairs
from street2shop.dedup.hash_pairs import hash_cross_pairs, hash_pairs
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
from street2shop.dedup.vector_pairs import usable_vector_rows, vector_cross_pairs, vector_pairs
from street2shop.dedup.verify import EITHER
from street2shop.dedup.verify_stage import NeighbourSearch, thumbnail_searches, verify_stage
from street2shop.errors import InvalidParameter, ManifestError
from street2shop.storage.stores import image_source


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
    full = read_manifest(new_manifest)
    rows, manifest_errors = validated_rows(full, params)
    positions = rows["_row"].to_numpy(dtype=np.int64)
    array, vec_ok = aligned_vectors(vectors, vectors_ok, len(full), positions)
    source = image_source(images) if images is not None else None
    items = catalogue.items.reset_index(drop=True)
    if params.same_column and params.same_column not in items.columns:
        raise ManifestError(f"--same {params.same_column}: the catalogue's items have no column {params.same_column!r}")
    new_part = partition_labels(rows, params)
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
        image_hashes, hash_errors = hashes_for_rows(rows, source, hashes, len(full), params)
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
        full_ok, row_vec_ok, vector_errors = usable_vectors(array, vec_ok, positions, rows, method)
        spread, back = spread_by_row(new_part, positions, len(full)), searched_row_map(positions, len(full))
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
                searches.append(NeighbourSearch(array, positions[g], new_space[g], array, positions[g], new_space[g], True, EITHER))
                if key in old_groups:
                    old = old_groups[key]
                    searches.append(NeighbourSearch(array, positions[g], new_space[g], catalogue.vectors, old, old, False, EITHER))
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
            searches = thumbnail_searches(thumbs, ok, blocks)
        else:
            why_not = "the hashes have no colour thumbnails"
    exclude = [(found[0], found[1]) for found in (hash_found, vector_found) if found is not None]
    verified, verify_errors, verify_info = verify_stage(
        searches, images=combined["image"].to_numpy(), products=combined["product_id"].to_numpy(), exclude=exclude,
        source=source, params=params, why_not=why_not,
    )
    if len(verify_errors):
        # Catalogue pictures that cannot be read are logged by the verification, not reported as new rows.
        verify_errors = verify_errors[verify_errors["row"] >= offset]
        verify_errors = verify_errors.assign(row=positions[verify_errors["row"].to_numpy(dtype=np.int64) - offset])
    errors = collect_errors(manifest_errors, hash_errors, vector_errors, verify_errors)
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
    scorer = ImagePairScorer([
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
    summary = run_summary(
        method, params, images=len(full), searched=usable_new, errors=errors, image_pairs=len(image_pairs),
        pairs=pairs, groups=groups, kept=len(deduplicated), incremental=True, catalogue_images=int(offset),
        new_products_dropped=len(dropped_new), **verify_info,
    )
    return DedupResult(pairs, groups, deduplicated, errors, image_hashes, rows, summary)
