"""The evaluation jobs behind the CLI and the DSS recipes: an index scored on user photos, and its parts compared."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from street2shop.errors import ManifestError
from street2shop.evaluation.retrieval import DEFAULT_KS, EvaluationResult, evaluate_retrieval
from street2shop.index.build import image_source
from street2shop.index.fusion import fused_scores, split_parts, stored_vectors
from street2shop.index.queries import queries_in_gallery
from street2shop.index.search import SearchIndex
from street2shop.manifest import read_table
from street2shop.ranking import product_ranks, retrieval_scores


def evaluate_catalogue(
    *,
    index: Any,
    queries: str | Path | pd.DataFrame,
    images: Any,
    ks: Sequence[int] = DEFAULT_KS,
    batch_size: int = 32,
    report: Any = None,
) -> EvaluationResult:
    """Evaluate an index with user photos (``street2shop evaluate``, recipe ``street2shop-evaluate``).

    Args:
        index: an index folder (path or managed folder) or a loaded ``SearchIndex``.
        report: where to publish the HTML/PNG report (an ``OutputDir``), or None.
    """
    from street2shop.evaluation.report import write_evaluation_report

    loaded = index if isinstance(index, SearchIndex) else SearchIndex.load(index)
    source = image_source(images)
    result = evaluate_retrieval(loaded, read_table(queries), source, ks=ks, batch_size=batch_size)
    if report is not None:
        write_evaluation_report(result, loaded, source, report)
    return result


def compare_parts(index: SearchIndex, queries: pd.DataFrame, images: Any, *, ks: Sequence[int] = (1, 10, 20), batch_size: int = 32) -> pd.DataFrame:
    """User->shop retrieval of each part of a multi-part index alone, with equal weights and as indexed.

    Returns:
        One row per method: ``method``, ``top_<k>`` for each k, ``mrr``; unreadable queries count as misses.
    """
    rows = queries_in_gallery(queries, index.items)
    if rows.empty:
        raise ManifestError("no query (source=user with a pair_id found in the index) to compare the parts on")
    embedded = index.embedder.embed_source(image_source(images), rows["image"].tolist(), batch_size=batch_size, progress_label="queries")
    layout = index.info["layout"]
    catalogue = stored_vectors(index.vectors)
    query_parts, gallery_parts = split_parts(embedded.vectors, layout), split_parts(catalogue, layout)
    pairs = rows["pair_id"].astype(str).to_numpy()[embedded.rows]
    gallery_pairs, products = index.items["pair_id"].astype(str).to_numpy(), index.items["product_id"].astype(str).to_numpy()
    methods = {name: query_parts[name] @ gallery_parts[name].T for name in query_parts}
    if len(layout) > 1:
        methods["all parts, equal weights"] = fused_scores(query_parts, gallery_parts, {name: 1.0 for name in query_parts})
        label = "all parts, fitted weights (the index)" if index.info.get("fusion") else "all parts, the index's weights"
        methods[label] = embedded.vectors @ catalogue.T
    table = []
    for method, scores in methods.items():
        ranks = np.zeros(len(rows), dtype=np.int64)  # unreadable queries stay at 0: a miss
        ranks[embedded.rows] = product_ranks(scores, pairs, gallery_pairs, products)
        scored = retrieval_scores(ranks, ks)
        table.append({"method": method, **{f"top_{k}": scored["top_k"][str(k)] for k in ks}, "mrr": scored["mrr"]})
    return pd.DataFrame(table)
