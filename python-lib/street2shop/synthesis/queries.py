"""Synthesised user photos of a catalogue's products, for fitting fusion weights when no real user photo is at hand."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from street2shop.errors import InvalidParameter, ManifestError
from street2shop.images.decode import DEFAULT_MAX_PIXELS
from street2shop.segmentation.params import SegmentParams

logger = logging.getLogger(__name__)

#: The value of ``index.json``'s ``fusion.pairs`` (and of ``--fit-weights``) for synthesised pairs.
SYNTHESISED = "synthesised"
DEFAULT_PRODUCTS = 200
DEFAULT_VIEW_SIZE = 160
DEFAULT_BACKGROUNDS = 64


@dataclass
class SyntheticQueries:
    """One street-like view per picked product, made from one of its shop pictures.

    Attributes:
        views: ``(n, S, S, 3)`` uint8 pictures.
        pairs: each view's pair: its product's ``pair_id`` or, without that column, its ``product_id``.
        products: each view's product id.
        images: the shop picture (manifest ``image``) each view was made from.
        pair_column: the item column whose values ``pairs`` holds (``pair_id`` or ``product_id``).
        errors: picked pictures that could not be read or cut out: row, image, reason.
    """

    views: np.ndarray
    pairs: np.ndarray
    products: np.ndarray
    images: list[str]
    pair_column: str
    errors: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=["row", "image", "reason"]))
    settings: dict[str, Any] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.views)

    def record(self) -> dict[str, Any]:
        """What ``index.json``'s ``fusion.synthesis`` keeps of how the queries were made."""
        return {**self.settings, "views": int(len(self)), "pair_column": self.pair_column, "unusable_pictures": int(len(self.errors))}


def pair_column(items: pd.DataFrame) -> str:
    """``pair_id`` when the catalogue links products that way (some value present), else ``product_id``."""
    if "pair_id" in items.columns and _present(items["pair_id"]).any():
        return "pair_id"
    return "product_id"


def synthesise_queries(
    items: pd.DataFrame,
    source: Any,
    *,
    products: int = DEFAULT_PRODUCTS,
    size: int = DEFAULT_VIEW_SIZE,
    backgrounds: int = DEFAULT_BACKGROUNDS,
    seed: int = 0,
    segment: SegmentParams | None = None,
    max_pixels: int = DEFAULT_MAX_PIXELS,
    max_workers: int = 4,
) -> SyntheticQueries:
    """Street-like views of up to ``products`` catalogue products (seeded pick), one per product.

    Each picked product's first shop picture is cut out (``synthesis.views.cut_out_garments``)
    and pasted on a backdrop (procedural textures and crops of the picked shop pictures), then
    warped, relit, occluded and re-compressed (``synthesis.views.sample_views``).

    Args:
        items: the catalogue's rows (``image``, ``product_id``, optional ``pair_id`` and ``source``).
        source: reads the ``image`` values.
        segment: how to cut the garments out (default ``SegmentParams()``).

    Raises:
        InvalidParameter: ``products`` below 2 or a bad view size.
        ManifestError: fewer than two products whose picture could be cut out.
    """
    from street2shop.synthesis.views import SynthesisParams, ViewSource, background_bank, cut_out_garments, sample_views

    if products < 2:
        raise InvalidParameter(f"synthesised pairs need at least 2 products, got {products}")
    column = pair_column(items)
    candidates = items.reset_index(drop=True)
    if "source" in candidates.columns:
        candidates = candidates[candidates["source"].astype(str).str.lower() != "user"]
    candidates = candidates[_present(candidates[column]) & _present(candidates["product_id"])]
    first = candidates.drop_duplicates("product_id", keep="first")
    if len(first) < 2:
        raise ManifestError(f"synthesised pairs need at least two catalogue products with a {column}; found {len(first)}")
    rng = np.random.default_rng([seed, 8])
    picked = first.iloc[np.sort(rng.choice(len(first), size=min(products, len(first)), replace=False))]
    cutouts, ok = cut_out_garments(
        source,
        picked["image"].astype(str).tolist(),
        picked["manifest_row"].to_numpy() if "manifest_row" in picked.columns else picked.index.to_numpy(),
        size=size,
        params=segment if segment is not None else SegmentParams(),
        max_pixels=max_pixels,
        max_workers=max_workers,
    )
    picked = picked[ok]
    if len(picked) < 2:
        raise ManifestError(f"only {len(picked)} picked shop picture(s) could be cut out: too few to synthesise pairs")
    bank, _ = background_bank(size, count=backgrounds, pictures=cutouts.shop, seed=seed)
    views = ViewSource(cutouts, np.arange(len(cutouts)), len(cutouts), bank)
    params = SynthesisParams()
    pictures = np.concatenate([sample_views(views, k, 1, params=params, seed=seed) for k in range(len(cutouts))])
    logger.info("synthesised %d user photos (one per product, %dpx) for fitting the part weights", len(pictures), size)
    return SyntheticQueries(
        views=pictures,
        pairs=picked[column].astype(str).to_numpy(),
        products=picked["product_id"].astype(str).to_numpy(),
        images=cutouts.images,
        pair_column=column,
        errors=cutouts.errors,
        settings={"products": int(products), "size": int(size), "backgrounds": int(backgrounds), "seed": int(seed)},
    )


def _present(values: pd.Series) -> pd.Series:
    text = values.astype("string").str.strip()
    return values.notna() & text.notna() & (text != "") & (text.str.lower() != "nan")
