"""The index folder format (design §3): vectors, item table, bundled encoders and ``index.json``; written and read whole."""

from __future__ import annotations

import hashlib
import json
import logging
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from street2shop import __version__
from street2shop.models.embedder import Embedder
from street2shop.models.encoder import save_encoder
from street2shop.errors import IndexFormatError
from street2shop.segmentation.step import SegmentStep
from street2shop.index.vectors import VectorIndex
from street2shop.storage.paths import check_no_escape, plain_name, resolve_inside

logger = logging.getLogger(__name__)

FORMAT_NAME = "street2shop-index"
FORMAT_VERSION = 1
INDEX_FILE = "index.json"
VECTORS_FILE = "vectors.faiss"
ITEMS_FILE = "items.parquet"
ENCODERS_DIR = "encoders"
#: ``index.json``'s record of every other file of the folder: ``{relative path: "sha256:<hex>"}``.
FILES_KEY = "files"
#: SHA-256: with the CPU's SHA extensions it is the fastest of hashlib's digests here (1.7 GB/s,
#: blake2b 0.9 GB/s; bench/serve_load.py measures it at 1M vectors).
DIGEST = "sha256"


def write_index_files(directory: Path, info: dict[str, Any], vectors: VectorIndex, items: pd.DataFrame, embedder: Embedder) -> None:
    """Write the index folder's files into a local staging directory."""
    (directory / VECTORS_FILE).write_bytes(vectors.to_bytes())
    items.to_parquet(directory / ITEMS_FILE, index=False)
    for part in embedder.parts:
        save_encoder(part.encoder, directory / ENCODERS_DIR / part.encoder.name)
    if isinstance(embedder.transform, SegmentStep):
        embedder.transform.bundle(directory)
    info[FILES_KEY] = file_digests(directory)
    # index.json last: a folder without it is never mistaken for a complete index.
    (directory / INDEX_FILE).write_text(json.dumps(info, indent=2, sort_keys=True))


def file_digests(directory: Path) -> dict[str, str]:
    """The digest of every file under ``directory`` but ``index.json``, by relative '/'-separated path."""
    digests = {}
    for path in sorted(p for p in directory.rglob("*") if p.is_file()):
        relative = path.relative_to(directory).as_posix()
        if relative != INDEX_FILE:
            digests[relative] = f"{DIGEST}:{_digest(path)}"
    return digests


def _digest(path: Path) -> str:
    with path.open("rb") as stream:
        return hashlib.file_digest(stream, DIGEST).hexdigest()


def verify_files(directory: Path, info: dict[str, Any]) -> None:
    """Check every file ``index.json`` records against its digest, and that every file search reads is recorded.

    An index written before digests were recorded (no ``files``) is read with a warning.

    Raises:
        IndexFormatError: a file missing, changed, unrecorded, or leading outside the folder.
    """
    recorded = info.get(FILES_KEY)
    if recorded is None:
        logger.warning("%s: %s records no file digests (an index built before they were recorded); damage cannot be detected", directory, INDEX_FILE)
        return
    if not isinstance(recorded, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in recorded.items()):
        raise IndexFormatError(f"{directory / INDEX_FILE}: {FILES_KEY!r} must map file paths to digests")
    needed = {VECTORS_FILE, ITEMS_FILE}
    for part in info["layout"]:
        encoder_dir = directory / ENCODERS_DIR / part["name"]
        needed |= {p.relative_to(directory).as_posix() for p in encoder_dir.rglob("*") if p.is_file()} if encoder_dir.is_dir() else set()
    from street2shop.segmentation.step import MASK_MODEL_DIR

    if (directory / MASK_MODEL_DIR).is_dir():
        needed |= {p.relative_to(directory).as_posix() for p in (directory / MASK_MODEL_DIR).rglob("*") if p.is_file()}
    unrecorded = sorted(needed - set(recorded))
    if unrecorded:
        raise IndexFormatError(f"{directory / unrecorded[0]}: not recorded in {INDEX_FILE}'s {FILES_KEY}; the folder was changed after it was built")
    for relative, wanted in sorted(recorded.items()):
        path = resolve_inside(directory, *relative.split("/"))
        if not path.is_file():
            raise IndexFormatError(f"{directory / relative}: missing; the index is incomplete")
        algorithm, _, expected = wanted.partition(":")
        if algorithm != DIGEST:
            raise IndexFormatError(f"{directory / INDEX_FILE}: unknown digest {algorithm!r} for {relative}")
        if _digest(path) != expected:
            raise IndexFormatError(
                f"{directory / relative}: damaged (its {DIGEST} digest is not the one recorded at build time); rebuild or copy the index again"
            )


def read_index_info(directory: Path) -> dict[str, Any]:
    """Read and check ``index.json`` of a local index directory: its fields, and that no file leads outside the folder."""
    path = directory / INDEX_FILE
    if not path.is_file():
        raise IndexFormatError(f"{directory} is not a street2shop index: {INDEX_FILE} is missing")
    check_no_escape(directory)
    try:
        info = json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise IndexFormatError(f"{path}: invalid JSON ({err})") from err
    if not isinstance(info, dict):
        raise IndexFormatError(f"{path}: not a street2shop index (a JSON object is expected)")
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
    _check_fields(path, info)
    return info


def _check_fields(path: Path, info: dict[str, Any]) -> None:
    """The fields search relies on, with their types: a damaged ``index.json`` fails here, by name."""
    for key, kind in (("count", int), ("dim", int), ("layout", list)):
        if not isinstance(info.get(key), kind) or isinstance(info.get(key), bool):
            raise IndexFormatError(f"{path}: {key!r} must be {'a list' if kind is list else 'an integer'}, got {_short(info.get(key))}")
    for i, part in enumerate(info["layout"]):
        where = f"{path}: layout[{i}]"
        if not isinstance(part, dict):
            raise IndexFormatError(f"{where} must be an object, got {_short(part)}")
        plain_name(part.get("name"), f"{where}.name")
        if not isinstance(part.get("fingerprint"), str) or not part["fingerprint"]:
            raise IndexFormatError(f"{where}.fingerprint is missing or not a string")
        weight = part.get("weight", 1.0)
        if isinstance(weight, bool) or not isinstance(weight, (int, float)) or not weight > 0:
            raise IndexFormatError(f"{where}.weight must be a positive number, got {_short(weight)}")
    if "label_columns" in info and not isinstance(info["label_columns"], list):
        raise IndexFormatError(f"{path}: 'label_columns' must be a list, got {_short(info['label_columns'])}")
    if "settings" in info and info["settings"] is not None and not isinstance(info["settings"], dict):
        raise IndexFormatError(f"{path}: 'settings' must be an object, got {_short(info['settings'])}")


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def read_items(directory: Path) -> pd.DataFrame:
    """The item table of a local index directory.

    Raises:
        IndexFormatError: the file is not a readable Parquet table with ``product_id`` and ``image``.
    """
    path = resolve_inside(directory, ITEMS_FILE)
    try:
        items = pd.read_parquet(path)
    except Exception as err:  # noqa: BLE001 - pyarrow raises many types for a damaged file
        raise IndexFormatError(f"{directory / ITEMS_FILE}: cannot read the item table ({type(err).__name__}: {str(err)[:160]})") from None
    missing = [column for column in ("product_id", "image") if column not in items]
    if missing:
        raise IndexFormatError(f"{directory / ITEMS_FILE}: column(s) {', '.join(missing)} missing")
    return items


def read_vectors(directory: Path, info: dict[str, Any]) -> VectorIndex:
    """The FAISS index of a local index directory."""
    data = resolve_inside(directory, VECTORS_FILE).read_bytes()
    try:
        index = VectorIndex.from_bytes(data, kind=info.get("index_type", "flat"))
    except Exception as err:  # noqa: BLE001 - FAISS raises RuntimeError with a C++ message
        message = str(err).strip().splitlines()[0][:160] if str(err).strip() else type(err).__name__
        raise IndexFormatError(f"{directory / VECTORS_FILE}: cannot read the vectors ({message})") from None
    if index.size != int(info["count"]) or index.dim_ != int(info["dim"]):
        raise IndexFormatError(
            f"{directory}: {VECTORS_FILE} holds {index.size} vectors of {index.dim_} dimensions, "
            f"{INDEX_FILE} says {info['count']} of {info['dim']}"
        )
    _check_norms(directory, index)
    return index


#: Largest score (and stored vector norm) an index of unit vectors can give, with float rounding.
MAX_SCORE = 1.0 + 1e-3


def _check_norms(directory: Path, index: VectorIndex, sample: int = 1024) -> None:
    """Refuse an index whose first stored vectors are not unit vectors (a damaged file FAISS still parses)."""
    count = min(index.size, sample)
    if count == 0:
        return
    try:
        vectors = index.index_.reconstruct_n(0, count)
    except RuntimeError:  # an IVF index without its direct map: the score check at search time still applies
        return
    norms = np.linalg.norm(np.asarray(vectors, dtype=np.float64), axis=1)
    if not np.all(np.isfinite(norms)) or float(norms.max()) > MAX_SCORE:
        raise IndexFormatError(f"{directory / VECTORS_FILE}: damaged (stored vectors are not unit vectors); rebuild the index")
