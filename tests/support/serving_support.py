"""Shared set-up of the serving tests: a tiny index over a synthetic catalogue, request bodies."""

from __future__ import annotations

import base64
from pathlib import Path

import pandas as pd

from tiny_models import tiny_encoder, write_catalogue


def build_tiny_index(root: Path, *, n_products: int = 6, out: Path | None = None) -> tuple[Path, Path, pd.DataFrame]:
    """A catalogue of coloured rectangles and its index (tiny encoder): ``(index_dir, images_dir, catalog)``."""
    from street2shop.models.embedder import Embedder
    from street2shop.index.build import build_index
    from street2shop.storage.local import LocalImageStore
    from street2shop.storage.publish import LocalOutputDir
    from street2shop.storage.stores import ImageSource

    images, catalog_csv, _queries = write_catalogue(root, n_products=n_products)
    catalog = pd.read_csv(catalog_csv, dtype=str)
    index_dir = out or root / "index"
    build_index(catalog, ImageSource(LocalImageStore(images)), Embedder([tiny_encoder()]), LocalOutputDir(index_dir))
    return index_dir, images, catalog


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")

