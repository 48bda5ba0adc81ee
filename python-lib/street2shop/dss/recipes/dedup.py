"""Recipe street2shop-dedup: manifest + pictures (+ index vectors, + existing catalogue) -> pairs, groups, deduplicated manifest, report.

``main`` reads the roles and config, calls :mod:`street2shop.dedup` (``run_dedup``: the whole
catalogue, or the new products against an existing one) and writes the datasets and the report folder.
"""

from __future__ import annotations

import logging
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from street2shop.dedup.catalogue import index_vectors, vectors_for_manifest
from street2shop.dedup.outputs import write_outputs
from street2shop.dedup.params import ERROR_COLUMNS, DedupParams, DedupResult
from street2shop.dedup.run import deduplicate
from street2shop.dss import recipe_io
from street2shop.dss.dedup_params import dedup_params
from street2shop.errors import InvalidParameter
from street2shop.storage.managed_folder import FolderImageStore
from street2shop.storage.publish import FolderOutputDir
from street2shop.storage.published import open_published

logger = logging.getLogger(__name__)

#: What the pairs dataset shows; the report folder's pairs.csv has every column.
PAIRS_DATASET_COLUMNS = ["product_a", "product_b", "image_a", "image_b", "similarity", "method", "group_id", "margin"]
GROUPS_DATASET_COLUMNS = ["group_id", "product_id", "keep", "images", "group_size", "flagged"]


def _index_vectors(folder: Any, manifest: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """The vectors of an ``embed`` index folder, laid out by manifest row, and the rows found."""
    with tempfile.TemporaryDirectory(prefix="street2shop-vectors-") as local:
        items, stored = index_vectors(open_published(folder).materialize(Path(local)))
    vectors, found = vectors_for_manifest(manifest, items, stored)
    if len(manifest) and not found.any():
        raise InvalidParameter("the vectors folder's index holds none of the manifest's images (matched on the image column)")
    return vectors, found


def run_dedup(
    manifest: pd.DataFrame, *, images: Any, vectors_folder: Any, catalogue_folders: list[Any], params: DedupParams
) -> DedupResult:
    """One dedup run: the whole catalogue, or (with catalogue folders) the new products against it."""
    vectors = vectors_ok = None
    if vectors_folder is not None and params.method != "hash":
        vectors, vectors_ok = _index_vectors(vectors_folder, manifest)
    return deduplicate(manifest, images=images, vectors=vectors, vectors_ok=vectors_ok, against=catalogue_folders, params=params)


def _typed_empty(frame: pd.DataFrame, columns: list[str], types: dict[str, str]) -> pd.DataFrame:
    """``frame[columns]`` with stable dtypes, so an empty output still gets a full schema."""
    out = frame.reindex(columns=columns)
    return out.astype({name: kind for name, kind in types.items() if name in out.columns})


def main() -> DedupResult:
    """Read the recipe's roles and config, run the dedup, write the datasets and the report folder."""
    # 1. Read the config and the inputs.
    params = dedup_params(recipe_io.config())
    manifest = recipe_io.input_frame("manifest")
    images_folder = recipe_io.input_folder("images", required=False)
    images = FolderImageStore(images_folder) if images_folder is not None else None
    vectors_folder = recipe_io.input_folder("vectors", required=False)
    catalogue_folders = recipe_io.input_folders("catalogue")
    report = FolderOutputDir(recipe_io.output_folder("report"))
    # 2. One library call.
    result = run_dedup(manifest, images=images, vectors_folder=vectors_folder, catalogue_folders=catalogue_folders, params=params)
    # 3. Write the outputs: the report folder first, it is what the check-duplicates step reads.
    write_outputs(result, report, images=images, params=params)
    pairs = _typed_empty(result.pairs, PAIRS_DATASET_COLUMNS, {
        "product_a": "str", "product_b": "str", "image_a": "str", "image_b": "str", "similarity": "float64",
        "method": "str", "group_id": "int64", "margin": "float64",
    })
    groups = _typed_empty(result.groups, GROUPS_DATASET_COLUMNS, {
        "group_id": "int64", "product_id": "str", "keep": "bool", "images": "int64", "group_size": "int64", "flagged": "bool",
    })
    recipe_io.write_output_frame("pairs", pairs)
    recipe_io.write_output_frame("groups", groups, required=False)
    recipe_io.write_output_frame("deduplicated", result.manifest.drop(columns=["_row"], errors="ignore"), required=False)
    errors = _typed_empty(result.errors, ERROR_COLUMNS, {"row": "int64", "image": "str", "reason": "str"})
    recipe_io.write_output_frame("errors", errors, required=False)
    for row in result.errors.head(20).itertuples():
        logger.warning("row %s (%s): %s", row.row, row.image, row.reason)
    summary = result.summary
    logger.info(
        "%s: %d images, %d duplicate product pairs in %d groups, %d products dropped, %d rows rejected",
        summary["method"], summary["images"], summary["pairs"], summary["groups"], summary["products_dropped"], summary["errors"],
    )
    return result
