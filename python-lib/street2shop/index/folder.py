"""The index folder format (design §3): vectors, item table, bundled encoders and ``index.json``; written and read whole."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import pandas as pd

from street2shop import __version__
from street2shop.models.embedder import Embedder
from street2shop.models.encoder import save_encoder
from street2shop.errors import IndexFormatError
from street2shop.segmentation.step import SegmentStep
from street2shop.index.vectors import VectorIndex

logger = logging.getLogger(__name__)

FORMAT_NAME = "street2shop-index"
FORMAT_VERSION = 1
INDEX_FILE = "index.json"
VECTORS_FILE = "vectors.faiss"
ITEMS_FILE = "items.parquet"
ENCODERS_DIR = "encoders"


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
