"""Retrieval evaluation, DeepFashion2-style: user photos query the shop gallery; a hit shares the query's pair_id."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from street2shop.errors import ManifestError
from street2shop.manifest import validate_manifest
from street2shop.index.queries import select_queries
from street2shop.index.search import Filters, SearchIndex
from street2shop.ranking import top_k_rates

logger = logging.getLogger(__name__)

DEFAULT_KS = (1, 5, 10, 20)


@dataclass
class EvaluationResult:
    """Top-k accuracy and, per query, the rank of the first correct product."""

    queries: int
    gallery: int
    top_k: dict[str, float]
    per_query: pd.DataFrame  # row, image, pair_id, rank (0 = not in the top max(k)), results (product ids)
    errors: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=["row", "image", "reason"]))
    skipped: int = 0  # queries whose pair_id has no product in the gallery

    def summary(self) -> dict[str, Any]:
        """The JSON shape of design §4."""
        return {"queries": self.queries, "gallery": self.gallery, "top_k": self.top_k}

    def metrics_frame(self) -> pd.DataFrame:
        """One row per k, for a metrics dataset."""
        return pd.DataFrame(
            {
                "k": [int(k) for k in self.top_k],
                "top_k_accuracy": list(self.top_k.values()),
                "queries": self.queries,
                "gallery": self.gallery,
                "skipped_queries": self.skipped,
                "unreadable_queries": len(self.errors),
            }
        )


def evaluate_retrieval(
    index: SearchIndex,
    queries: pd.DataFrame,
    source: Any,
    *,
    ks: Sequence[int] = DEFAULT_KS,
    batch_size: int = 32,
    filters: Filters | None = None,
) -> EvaluationResult:
    """Query the index with each user photo and count hits within the top k products.

    Queries whose pair_id has no product in the gallery cannot be hit; they are counted in
    ``skipped`` and left out of the accuracy, as DeepFashion2 scores only queries with a match.
    Unreadable query pictures are reported in ``errors`` and count as misses.
    """
    if "pair_id" not in index.items.columns:
        raise ManifestError("the index's items have no pair_id column: rebuild it from a manifest with pair_id")
    check = validate_manifest(queries)
    rows = select_queries(check.rows).reset_index(drop=True)
    gallery_pairs = _pairs_by_product(index.items)
    known_pairs = set().union(*gallery_pairs.values()) if gallery_pairs else set()
    in_gallery = rows["pair_id"].astype(str).isin(known_pairs)
    skipped = int((~in_gallery).sum())
    rows = rows[in_gallery].reset_index(drop=True)
    if rows.empty:
        raise ManifestError("no query (source=user with a pair_id found in the index) to evaluate")
    depth = max(ks)
    embedded = index.embedder.embed_source(source, rows["image"].tolist(), batch_size=batch_size, progress_label="queries")
    results = index.search_vectors(embedded.vectors, k=depth, filters=filters)
    ranks = np.zeros(len(rows), dtype=int)
    found: list[list[str]] = [[] for _ in range(len(rows))]
    for row, hits in zip(embedded.rows, results):
        wanted = str(rows.at[int(row), "pair_id"])
        found[int(row)] = [hit["product_id"] for hit in hits]
        for position, hit in enumerate(hits, start=1):
            if wanted in gallery_pairs.get(hit["product_id"], ()):
                ranks[int(row)] = position
                break
    top_k = {k: round(rate, 4) for k, rate in top_k_rates(ranks, sorted(ks)).items()}
    per_query = pd.DataFrame(
        {"row": rows["_row"], "image": rows["image"], "pair_id": rows["pair_id"].astype(str), "rank": ranks, "results": found}
    )
    errors = embedded.errors.assign(row=rows["_row"].to_numpy()[embedded.errors["row"].to_numpy(dtype=int)])
    errors = pd.concat([check.errors, errors], ignore_index=True)
    logger.info("evaluated %d queries against %d gallery items: %s", len(rows), len(index), top_k)
    return EvaluationResult(
        queries=len(rows), gallery=len(index), top_k=top_k, per_query=per_query, errors=errors, skipped=skipped
    )


def _pairs_by_product(items: pd.DataFrame) -> dict[str, set[str]]:
    pairs: dict[str, set[str]] = {}
    for product, pair in zip(items["product_id"].astype(str), items["pair_id"].astype(str)):
        if pair.strip():
            pairs.setdefault(product, set()).add(pair)
    return pairs
