"""The one dedup entry the CLI and the DSS recipe call: ``deduplicate``, a whole catalogue or new products
against an existing one."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from street2shop.dedup.catalogue import embed_like_index, load_catalogue
from street2shop.dedup.find import find_duplicates
from street2shop.dedup.incremental import check_new_products
from street2shop.dedup.params import DedupParams, DedupResult
from street2shop.dedup.stages import read_manifest


def deduplicate(
    manifest: str | Path | pd.DataFrame,
    *,
    images: Any = None,
    vectors: np.ndarray | None = None,
    vectors_ok: np.ndarray | None = None,
    against: Sequence[Any] | None = None,
    params: DedupParams | None = None,
) -> DedupResult:
    """One dedup run: :func:`find_duplicates` over the manifest, or, ``against`` an existing catalogue,
    :func:`check_new_products` for the manifest's products.

    Args:
        manifest: one row per image (image, product_id, labels...), a path or a DataFrame.
        images: where the pictures are (a directory, ``s3://`` prefix, image store or ``ImageSource``).
        vectors, vectors_ok: the manifest rows' vectors and the mask of valid ones, if any.
        against: the existing catalogue's folders (index folders for vectors, earlier dedup outputs
            for hashes; local or managed folders), see :func:`load_catalogue`. None or empty: the
            whole manifest is searched.
        params: thresholds, method, keep policy...
    """
    params = (params or DedupParams()).check()
    if not against:
        return find_duplicates(manifest, images=images, vectors=vectors, vectors_ok=vectors_ok, params=params)
    manifest = manifest if isinstance(manifest, pd.DataFrame) else read_manifest(manifest)
    catalogue = load_catalogue(*against)
    if vectors is None and catalogue.index_dir is not None and params.method != "hash" and images is not None and len(manifest):
        # New pictures are embedded by the catalogue index's own encoders, so their vectors compare.
        vectors, vectors_ok = embed_like_index(catalogue.index_dir, manifest, images, max_pixels=params.max_pixels)
    return check_new_products(manifest, catalogue, images=images, vectors=vectors, vectors_ok=vectors_ok, params=params)
