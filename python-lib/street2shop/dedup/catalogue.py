"""An existing catalogue's searchable features (``load_catalogue``: index folders for vectors, earlier
dedup outputs for hashes), and vectors for a manifest from an index folder or its encoders."""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from street2shop.dedup.hashing import ImageHashes
from street2shop.dedup.params import HASHES_FILE, THUMBS_FILE
from street2shop.errors import InvalidParameter
from street2shop.images.decode import DEFAULT_MAX_PIXELS
from street2shop.storage.stores import image_source


@dataclass
class Catalogue:
    """An existing catalogue's searchable features, one row per image.

    Attributes:
        items: image, product_id and other manifest columns.
        vectors: (n, d) vectors (or None); rows without one are False in ``vectors_ok``.
        vectors_ok: (n,) mask.
        hashes: the pictures' hashes (or None).
        index_dir: where the index the vectors come from is (its encoders embed new pictures alike).
    """

    items: pd.DataFrame
    vectors: np.ndarray | None = None
    vectors_ok: np.ndarray | None = None
    hashes: ImageHashes | None = None
    index_dir: Any = None


def load_catalogue(*locations: Any) -> Catalogue:
    """The features of an existing catalogue from index folders (vectors) and/or dedup outputs (hashes).

    Several locations (local folders or DSS managed folders) are merged by ``image``: an index
    folder from ``embed`` for the vectors and the previous dedup output for the hashes, typically.
    """
    from street2shop.storage.published import open_published

    if not locations:
        raise InvalidParameter("an existing catalogue needs at least one folder (an index or a dedup output)")
    with tempfile.TemporaryDirectory(prefix="street2shop-catalogue-") as scratch:
        folders = [Path(open_published(loc).materialize(Path(scratch) / str(k))) for k, loc in enumerate(locations)]
        return _load_catalogue(folders, index_location=next((loc for loc, f in zip(locations, folders) if (f / "index.json").is_file()), None))


def _load_catalogue(folders: list[Path], index_location: Any) -> Catalogue:
    vectors_part = hashes_part = None
    index_dir = index_location
    for folder in folders:
        if (folder / "index.json").is_file():
            vectors_part = index_vectors(folder)
        elif (folder / HASHES_FILE).is_file():
            table = pd.read_csv(folder / HASHES_FILE, dtype=str, keep_default_na=False)
            thumbs = np.load(folder / THUMBS_FILE, allow_pickle=False) if (folder / THUMBS_FILE).is_file() else None
            hashes = ImageHashes.from_frame(table, thumbs)
            hashes_part = (table[["image", "product_id"]], hashes)
        else:
            raise InvalidParameter(f"{folder} is neither an index folder (index.json) nor a dedup output ({HASHES_FILE})")
    frames = [part[0][["image", "product_id"]] for part in (vectors_part, hashes_part) if part is not None]
    items = pd.concat(frames, ignore_index=True).drop_duplicates("image").reset_index(drop=True)
    if vectors_part is not None:
        extra = vectors_part[0].drop(columns=[c for c in ("product_id",) if c in vectors_part[0]]).drop_duplicates("image")
        items = items.merge(extra, on="image", how="left")
    position = {image: k for k, image in enumerate(items["image"])}
    catalogue = Catalogue(items=items, index_dir=index_dir)
    if vectors_part is not None:
        source_items, vectors = vectors_part
        where = np.array([position[i] for i in source_items["image"]], dtype=np.int64)
        full = np.zeros((len(items), vectors.shape[1]), np.float32)
        ok = np.zeros(len(items), bool)
        full[where], ok[where] = vectors, True
        catalogue.vectors, catalogue.vectors_ok = full, ok
    if hashes_part is not None:
        source_items, hashes = hashes_part
        where = np.array([position[i] for i in source_items["image"]], dtype=np.int64)
        width = len(hashes.kinds)
        codes = np.zeros((len(items), width), np.uint64)
        mirrored = np.zeros((len(items), width), np.uint64) if hashes.mirrored is not None else None
        ok = np.zeros(len(items), bool)
        codes[where], ok[where] = hashes.codes, hashes.ok
        if mirrored is not None:
            mirrored[where] = hashes.mirrored
        thumbs = None
        if hashes.thumbs is not None:
            thumbs = np.zeros((len(items), *hashes.thumbs.shape[1:]), np.uint8)
            thumbs[where] = hashes.thumbs
        catalogue.hashes = ImageHashes(hashes.kinds, codes, mirrored, ok, thumbs)
    return catalogue


def index_vectors(folder: str | Path) -> tuple[pd.DataFrame, np.ndarray]:
    """The item table and the (n, d) vectors stored in an index folder made by ``embed``."""
    from street2shop.index.folder import read_index_info, read_items, read_vectors

    folder = Path(folder)
    info = read_index_info(folder)
    items = read_items(folder)
    index = read_vectors(folder, info).index_
    if hasattr(index, "make_direct_map"):
        index.make_direct_map()
    vectors = index.reconstruct_n(0, index.ntotal)
    return items.reset_index(drop=True), np.asarray(vectors, np.float32)


def vectors_for_manifest(manifest: pd.DataFrame, items: pd.DataFrame, vectors: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Vectors of an index folder laid out by manifest row (matched on ``image``), and the mask of rows found."""
    position = {image: k for k, image in enumerate(items["image"].astype(str))}
    where = np.array([position.get(str(image), -1) for image in manifest["image"]], dtype=np.int64)
    found = where >= 0
    out = np.zeros((len(manifest), vectors.shape[1]), np.float32)
    out[found] = vectors[where[found]]
    return out, found


def embed_like_index(
    index_dir: str | Path, manifest: pd.DataFrame, images: Any, *, batch_size: int = 32, max_pixels: int = DEFAULT_MAX_PIXELS
) -> tuple[np.ndarray, np.ndarray]:
    """Vectors of the manifest's pictures made by the encoders bundled in an index folder.

    New products are embedded exactly as the catalogue was, so their vectors compare with the
    index's. Returns one row per manifest row and the mask of rows that could be embedded.
    """
    from street2shop.index.search import SearchIndex

    embedder = SearchIndex.load(index_dir).embedder
    result = embedder.embed_source(image_source(images), manifest["image"].astype(str).tolist(), batch_size=batch_size, max_pixels=max_pixels)
    vectors = np.zeros((len(manifest), embedder.dim), np.float32)
    ok = np.zeros(len(manifest), bool)
    vectors[result.rows], ok[result.rows] = result.vectors, True
    return vectors, ok
