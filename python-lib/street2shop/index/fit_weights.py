"""Fitting the part weights of a multi-part index on user->shop pairs: real user photos or synthesised ones.

:func:`fit_weights_with_fallback` is the one entry of ``embed --fit-weights`` and
``fit-weights``: real photos first, synthesised pairs when there are none.
"""

from __future__ import annotations

import logging
from typing import Any

import numpy as np
import pandas as pd

from street2shop.models.embedder import Embedder
from street2shop.errors import InvalidParameter, ManifestError
from street2shop.index.fusion import FusionFit, fit_part_weights, split_parts
from street2shop.images.decode import DEFAULT_MAX_PIXELS
from street2shop.index.queries import queries_in_gallery
from street2shop.segmentation.step import SegmentStep
from street2shop.synthesis.queries import DEFAULT_PRODUCTS, SYNTHESISED, SyntheticQueries

logger = logging.getLogger(__name__)


def fit_weights_with_fallback(
    embedder: Embedder,
    vectors: np.ndarray,
    items: pd.DataFrame,
    source: Any,
    *,
    queries: pd.DataFrame | None = None,
    split: str | None = "val",
    synthesised: int | None = None,
    objective: str = "mrr",
    step: float = 0.1,
    batch_size: int = 32,
    max_pixels: int = DEFAULT_MAX_PIXELS,
) -> tuple[FusionFit, dict[str, Any]]:
    """Fit the part weights on the user photos ``queries``, else on synthesised pairs of up to ``synthesised`` products.

    Synthesised pairs are used when ``queries`` is None or holds no usable photo (and
    ``synthesised`` is given).

    Returns:
        The fit, and how its pairs were had: ``{"pairs": "real"}``, or ``{"pairs": "synthesised",
        "synthesis": ...}`` with ``fallback_reason`` when real photos were given but unusable.

    Raises:
        InvalidParameter: neither queries nor synthesised pairs; fewer than two parts.
        ManifestError: no usable user photo and no synthesised fallback.
    """
    if queries is None and synthesised is None:
        raise InvalidParameter("fitting weights needs user photos with pair_id, synthesised pairs, or both")
    fallback = None
    if queries is not None:
        try:
            fit = fit_weights_on_queries(
                embedder, vectors, items, queries, source, split=split, objective=objective, step=step, batch_size=batch_size
            )
            return fit, {"pairs": "real"}
        except ManifestError as err:
            if synthesised is None:
                raise
            fallback = str(err)
            logger.warning("cannot fit the part weights on the user photos (%s): fitting on synthesised pairs instead", err)
    else:
        logger.info("no user photos to fit the part weights on: fitting on synthesised user->shop pairs")
    fit, synthetic = fit_weights_on_synthesised(
        embedder, vectors, items, source, products=int(synthesised), objective=objective, step=step,
        batch_size=batch_size, max_pixels=max_pixels,
    )
    record: dict[str, Any] = {"pairs": SYNTHESISED, "synthesis": synthetic.record()}
    if fallback is not None:
        record["fallback_reason"] = fallback
    return fit, record


def fit_weights_on_queries(
    embedder: Embedder,
    vectors: np.ndarray,
    items: pd.DataFrame,
    queries: pd.DataFrame,
    source: Any,
    *,
    split: str | None = "val",
    objective: str = "mrr",
    step: float = 0.1,
    batch_size: int = 32,
) -> FusionFit:
    """Fit the part weights of a catalogue's vectors on user photos whose ``pair_id`` it holds.

    Returns:
        A :class:`street2shop.index.fusion.FusionFit` (weights in the embedder's part order).

    Raises:
        InvalidParameter: fewer than two parts.
        ManifestError: no usable query (no pair_id, none in the catalogue, none in ``split``).
    """
    if len(embedder.parts) < 2:
        raise InvalidParameter("fitting weights needs an embedding of at least two parts (models, descriptors)")
    if "pair_id" not in items.columns:
        raise ManifestError("the catalogue has no pair_id column: nothing links the user photos to its products")
    rows = queries_in_gallery(queries, items)
    if split is not None:
        if "split" not in rows.columns:
            raise ManifestError(f"the queries have no 'split' column to pick split {split!r} from")
        rows = rows[rows["split"].astype(str) == split].reset_index(drop=True)
    if rows.empty:
        raise ManifestError("no user photo whose pair_id is in the catalogue" + (f" (split {split})" if split else "") + ": nothing to fit weights on")
    embedded = embedder.embed_source(source, rows["image"].tolist(), batch_size=batch_size, progress_label="fit-weights queries")
    for row in embedded.errors.head(20).itertuples():
        logger.warning("fit-weights query %s: %s", row.image, row.reason)
    fit = _fit_parts(
        embedder, embedded.vectors, rows["pair_id"].astype(str).to_numpy()[embedded.rows], vectors, items, "pair_id",
        objective=objective, step=step,
    )
    fit.validation["unreadable_queries"] = int(len(embedded.errors))
    return fit


def fit_weights_on_synthesised(
    embedder: Embedder,
    vectors: np.ndarray,
    items: pd.DataFrame,
    source: Any,
    *,
    products: int = DEFAULT_PRODUCTS,
    seed: int = 0,
    objective: str = "mrr",
    step: float = 0.1,
    batch_size: int = 32,
    max_pixels: int = DEFAULT_MAX_PIXELS,
) -> tuple[FusionFit, SyntheticQueries]:
    """Fit the part weights of a catalogue's vectors on synthesised user photos of its own products.

    One street-like view of one shop picture per picked product
    (:func:`street2shop.synthesis.queries.synthesise_queries`), embedded like a real photo (the
    embedder's segmentation reaches the parts that expect the garment); its pair is its
    product's ``pair_id``, or its ``product_id`` when the catalogue has no pair ids.

    Returns:
        The :class:`street2shop.index.fusion.FusionFit` and the synthesised queries.

    Raises:
        InvalidParameter: fewer than two parts.
        ManifestError: fewer than two products whose picture could be cut out.
    """
    from street2shop.synthesis.queries import synthesise_queries

    if len(embedder.parts) < 2:
        raise InvalidParameter("fitting weights needs an embedding of at least two parts (models, descriptors)")
    transform = embedder.transform
    synthetic = synthesise_queries(
        items, source, products=products, seed=seed, max_pixels=max_pixels,
        segment=transform.params if isinstance(transform, SegmentStep) else None,
    )
    query_vectors = embedder.embed_arrays(list(synthetic.views), batch_size=batch_size)
    fit = _fit_parts(embedder, query_vectors, synthetic.pairs, vectors, items, synthetic.pair_column, objective=objective, step=step)
    fit.validation["unusable_pictures"] = int(len(synthetic.errors))
    return fit, synthetic


def _fit_parts(
    embedder: Embedder,
    query_vectors: np.ndarray,
    query_pairs: np.ndarray,
    vectors: np.ndarray,
    items: pd.DataFrame,
    pair_column: str,
    *,
    objective: str,
    step: float,
) -> FusionFit:
    """:func:`street2shop.index.fusion.fit_part_weights` on embedded queries against the catalogue's vectors."""
    layout = embedder.layout()
    fit = fit_part_weights(
        split_parts(query_vectors, layout),
        split_parts(vectors, layout),
        query_pairs,
        items[pair_column].astype(str).to_numpy(),
        items["product_id"].astype(str).to_numpy(),
        objective=objective,
        step=step,
    )
    for warning in fit.warnings:
        logger.warning("fit-weights: %s", warning)
    return fit
