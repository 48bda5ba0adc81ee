"""The index folder (design §3): vectors, item table, bundled encoders and a manifest; built and read whole."""

from __future__ import annotations

import json
import logging
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from street2shop import __version__
from street2shop.models.embedder import Embedder
from street2shop.models.encoder import save_encoder
from street2shop.errors import IndexFormatError, ManifestError
from street2shop.images.decode import DEFAULT_MAX_PIXELS
from street2shop.manifest import label_columns, merge_errors, validate_manifest
from street2shop.segmentation.step import SegmentStep, segment_record
from street2shop.index.vectors import VectorIndex

logger = logging.getLogger(__name__)

FORMAT_NAME = "street2shop-index"
FORMAT_VERSION = 1
INDEX_FILE = "index.json"
VECTORS_FILE = "vectors.faiss"
ITEMS_FILE = "items.parquet"
ENCODERS_DIR = "encoders"


@dataclass
class BuildReport:
    """What :func:`build_index` did."""

    indexed: int
    errors: pd.DataFrame  # row, image, reason
    info: dict[str, Any]


def build_index(
    manifest: pd.DataFrame,
    source: Any,
    embedder: Embedder,
    output: Any,
    *,
    index_type: str = "flat",
    batch_size: int = 32,
    max_pixels: int = DEFAULT_MAX_PIXELS,
    settings: dict[str, Any] | None = None,
    fit_weights: Callable[[np.ndarray, pd.DataFrame], tuple[list[float], dict[str, Any]]] | None = None,
) -> BuildReport:
    """Embed every manifest row and publish the index folder to ``output`` in one atomic step.

    Args:
        manifest: one row per image (design §3).
        source: reads the ``image`` values (an ``ImageSource``).
        embedder: the encoders that make the vectors; they are bundled into the folder. When its
            transform is a ``SegmentStep`` (the ``segment`` option), its settings are recorded in
            ``index.json`` and its mask model is bundled, so queries are segmented the same way.
        output: where to publish (an ``OutputDir``); untouched if anything fails.
        index_type: ``flat``, ``ivf`` or ``hnsw``.
        settings: extra facts recorded in ``index.json`` (backbone, weights source, segment...).
        fit_weights: given the catalogue's vectors and items, the part weights to use instead of
            the embedder's and a record of how they were chosen (``index.json``'s ``fusion``);
            the vectors are re-weighted, not re-encoded.

    Returns:
        The number of items indexed and the rows that could not be (manifest errors and bad images).
    """
    check = validate_manifest(manifest)
    rows = check.rows.reset_index(drop=True)
    if rows.empty:
        raise ManifestError("no usable rows in the manifest: nothing to index" + _first_reasons(check.errors))
    result = embedder.embed_source(source, rows["image"].tolist(), batch_size=batch_size, max_pixels=max_pixels)
    image_errors = result.errors.assign(row=rows["_row"].to_numpy()[result.errors["row"].to_numpy(dtype=int)])
    errors = merge_errors(check.errors, image_errors)
    if len(result.rows) == 0:
        raise ManifestError("none of the manifest's images could be read" + _first_reasons(errors))
    items = rows.iloc[result.rows].reset_index(drop=True)
    items = items.rename(columns={"_row": "manifest_row"})
    predicted = predicted_columns(embedder, result.attributes, taken=set(items.columns))
    for column, values in predicted.items():
        items[column] = values
    catalogue_vectors, fusion = result.vectors, None
    if fit_weights is not None:
        from street2shop.index.fusion import reweighted

        weights, fusion = fit_weights(result.vectors, items)
        catalogue_vectors = reweighted(result.vectors, embedder.layout(), weights)
        embedder.set_weights(weights)
    vectors = VectorIndex(kind=index_type).fit(catalogue_vectors)
    info = {
        "format": FORMAT_NAME,
        "format_version": FORMAT_VERSION,
        "created_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "street2shop_version": __version__,
        "count": int(len(items)),
        "dim": int(result.vectors.shape[1]),
        "metric": "inner_product",
        "index_type": index_type,
        "layout": embedder.layout(),
        "label_columns": label_columns(items, exclude=("manifest_row", *predicted)),
        "predicted_columns": {column: name for column, name in zip(predicted, _attribute_names(embedder, predicted))},
        "settings": {**dict(settings or {}), **segment_record(embedder.transform, bundled=True)},
        "fusion": fusion,
    }
    with tempfile.TemporaryDirectory(prefix="street2shop-index-") as staging:
        write_index_files(Path(staging), info, vectors, items, embedder)
        output.publish(Path(staging))
    logger.info("indexed %d images (%d rows reported as errors)", len(items), len(errors))
    return BuildReport(indexed=len(items), errors=errors.reset_index(drop=True), info=info)


PREDICTED_PREFIX = "predicted_"


def predicted_columns(embedder: Embedder, attributes: dict[str, Any], *, taken: set[str]) -> dict[str, list[str]]:
    """Item-table columns ``predicted_<model>``: each attribute model's classes for each picture.

    Single-label: the most probable class; multi-label: the classes at or above 0.5, '|'-joined.
    """
    from street2shop.models.predictions import predicted_labels

    columns: dict[str, list[str]] = {}
    for encoder in embedder.attribute_models:
        column = PREDICTED_PREFIX + encoder.name
        probabilities = attributes.get(encoder.name)
        if probabilities is None or column in taken:
            continue
        hot = predicted_labels(probabilities, encoder.multilabel)
        classes = encoder.classes or []
        columns[column] = ["|".join(classes[i] for i in row.nonzero()[0]) for row in hot]
    return columns


def _attribute_names(embedder: Embedder, columns: dict[str, Any]) -> list[str]:
    return [column[len(PREDICTED_PREFIX) :] for column in columns]


def write_index_files(directory: Path, info: dict[str, Any], vectors: VectorIndex, items: pd.DataFrame, embedder: Embedder) -> None:
    """Write the index folder's files into a local staging directory."""
    (directory / VECTORS_FILE).write_bytes(vectors.to_bytes())
    items.to_parquet(directory / ITEMS_FILE, index=False)
    for part in embedder.parts:
        save_encoder(part.encoder, directory / ENCODERS_DIR / part.encoder.name)
    if isinstance(embedder.transform, SegmentStep):
        embedder.transform.bundle(directory)
    # index.json last: a folder without it is never mistaken for a complete index.
    (directory / INDEX_FILE).write_text(json.dumps(info, indent=2, sort_keys=True))


def read_index_info(directory: Path) -> dict[str, Any]:
    """Read and check ``index.json`` of a local index directory."""
    path = directory / INDEX_FILE
    if not path.is_file():
        raise IndexFormatError(f"{directory} is not a street2shop index: {INDEX_FILE} is missing")
    try:
        info = json.loads(path.read_text())
    except json.JSONDecodeError as err:
        raise IndexFormatError(f"{path}: invalid JSON ({err})") from err
    if info.get("format") != FORMAT_NAME:
        raise IndexFormatError(f"{path}: not a street2shop index (format {info.get('format')!r})")
    if int(info.get("format_version", -1)) > FORMAT_VERSION:
        raise IndexFormatError(
            f"{path}: index format version {info.get('format_version')} is newer than this street2shop "
            f"({__version__}) reads ({FORMAT_VERSION}); upgrade the plugin"
        )
    for name in (VECTORS_FILE, ITEMS_FILE):
        if not (directory / name).is_file():
            raise IndexFormatError(f"{directory}: {name} is missing; the index is incomplete")
    return info


def read_items(directory: Path) -> pd.DataFrame:
    """The item table of a local index directory."""
    return pd.read_parquet(directory / ITEMS_FILE)


def read_vectors(directory: Path, info: dict[str, Any]) -> VectorIndex:
    """The FAISS index of a local index directory."""
    index = VectorIndex.from_bytes((directory / VECTORS_FILE).read_bytes(), kind=info.get("index_type", "flat"))
    if index.size != int(info["count"]) or index.dim_ != int(info["dim"]):
        raise IndexFormatError(
            f"{directory}: {VECTORS_FILE} holds {index.size} vectors of {index.dim_} dimensions, "
            f"{INDEX_FILE} says {info['count']} of {info['dim']}"
        )
    return index


def _first_reasons(errors: pd.DataFrame, limit: int = 3) -> str:
    if errors.empty:
        return ""
    shown = "; ".join(f"row {r.row} ({r.image}): {r.reason}" for r in errors.head(limit).itertuples())
    return f" ({len(errors)} rows reported; first: {shown})"

