"""The user photos that query an index: rows with ``source == user`` and a ``pair_id`` the gallery holds.

Index weight fitting and evaluation both pick their queries here (evaluation sits above index).
"""

from __future__ import annotations

import pandas as pd

from street2shop.errors import ManifestError
from street2shop.manifest import validate_manifest


def select_queries(manifest: pd.DataFrame) -> pd.DataFrame:
    """The rows that query: ``source == user`` when the column exists, and a ``pair_id``."""
    if "pair_id" not in manifest.columns:
        raise ManifestError(f"the queries need a pair_id column; columns found: {', '.join(manifest.columns)}")
    rows = manifest
    if "source" in rows.columns:
        rows = rows[rows["source"].astype(str).str.lower() == "user"]
    return rows[rows["pair_id"].astype(str).str.strip() != ""]


def queries_in_gallery(queries: pd.DataFrame, items: pd.DataFrame) -> pd.DataFrame:
    """The valid user photos of a manifest (:func:`select_queries`) whose pair_id the gallery's items hold."""
    rows = select_queries(validate_manifest(queries).rows)
    return rows[rows["pair_id"].astype(str).isin(set(items["pair_id"].astype(str)))].reset_index(drop=True)
