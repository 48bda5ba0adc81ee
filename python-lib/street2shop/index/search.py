"""Search an index folder with pictures: top-k products, optionally filtered on label columns."""

from __future__ import annotations

import logging
import tempfile
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from street2shop.models.embedder import Embedder, PixelTransform
from street2shop.models.encoder import Encoder
from street2shop.models.loading import load_encoder
from street2shop.errors import FingerprintMismatch, IndexFormatError, InvalidParameter
from street2shop.images.decode import DEFAULT_MAX_PIXELS, decode_image
from street2shop.index.folder import ENCODERS_DIR, MAX_SCORE, VECTORS_FILE, read_index_info, read_items, read_vectors, verify_files
from street2shop.manifest import split_labels
from street2shop.storage.paths import resolve_inside
from street2shop.storage.published import open_published

logger = logging.getLogger(__name__)

Filters = Mapping[str, Sequence[str] | str]


@dataclass
class QueryAnswer:
    """One picture's answer: the products, what was predicted about the query, and where the time went."""

    results: list[dict[str, Any]]
    attributes: dict[str, list[dict[str, Any]]]  # per model: top classes with probabilities
    segmented: bool
    timing_ms: dict[str, float]  # decode, segment, embed, search (and person, garments with a person model)
    outfit: Any = None  # an ``index.outfit.OutfitAnswer`` when a person model found someone, else None


class SearchIndex:
    """A loaded index folder: its vectors, items and encoders, ready to answer queries.

    Example:
        >>> index = SearchIndex.load("catalogue-index")
        >>> index.search_bytes(open("photo.jpg", "rb").read(), k=10, filters={"type": ["dresses"]})
    """

    def __init__(self, info: dict[str, Any], items: pd.DataFrame, vectors: Any, embedder: Embedder, *, workdir: Any = None):
        self.info = info
        self.items = items.reset_index(drop=True)
        self.vectors = vectors
        self.embedder = embedder
        self.label_columns: list[str] = list(info.get("label_columns", []))
        self.directory = Path(".")  # where the index was loaded from (set by load)
        self._workdir = workdir  # keeps a downloaded copy alive as long as the index
        self._views_per_product = int(self.items.groupby("product_id").size().max()) if len(self.items) else 1
        # Predicted attributes filter like labels (useful when the catalogue is not labelled).
        self.predicted_columns: list[str] = list(info.get("predicted_columns", {}))
        # Per-item fields and per-(column, value) item lists, built once: a query then costs
        # NumPy set operations and list lookups, never a pass over the catalogue in Python.
        self._products = self.items["product_id"].astype(str).tolist() if len(self.items) else []
        self._images = self.items["image"].astype(str).tolist() if len(self.items) else []
        self._labels = {c: [_plain(v) for v in self.items[c]] for c in self.label_columns if c in self.items}
        self._value_ids = {
            column: _ids_by_value(self.items[column])
            for column in self.label_columns + self.predicted_columns
            if column in self.items
        }

    @classmethod
    def load(
        cls,
        location: Any,
        *,
        encoders: Sequence[Encoder] | None = None,
        transform: PixelTransform | None = None,
    ) -> SearchIndex:
        """Load an index folder (local path or managed folder) and its bundled encoders.

        Args:
            location: a directory, or a DSS managed folder (read through its stream API).
            encoders: use these instead of the bundled ones; they must have the fingerprints the
                index was built with.
            transform: the picture transform to apply to queries; default: the one the index
                records (the ``segment`` option, with its bundled mask model), or none.

        Raises:
            IndexFormatError: not an index, or an incomplete one.
            FingerprintMismatch: an encoder (or the bundled mask model) is not the one the index
                was built with.
        """
        published = open_published(location)
        workdir = None
        if isinstance(location, (str, Path)) and Path(location).is_dir():
            directory = published.materialize(None)
        else:
            workdir = tempfile.TemporaryDirectory(prefix="street2shop-index-")
            directory = published.materialize(Path(workdir.name))
        directory = Path(directory)
        info = read_index_info(directory)
        layout = info["layout"]
        if not layout:
            raise IndexFormatError(f"{directory}: the index records no encoders")
        verify_files(directory, info)
        parts: list[tuple[Encoder, float, bool]] = []
        if encoders is not None:
            by_fingerprint = {encoder.fingerprint: encoder for encoder in encoders}
            for part in layout:
                encoder = by_fingerprint.get(part["fingerprint"])
                if encoder is None:
                    given = ", ".join(f"{e.name} ({e.fingerprint[:12]})" for e in encoders) or "none"
                    raise FingerprintMismatch(
                        f"the index was built with model {part['name']!r} (fingerprint {part['fingerprint'][:12]}); "
                        f"the models given do not match it: {given}. Use the index's own models or rebuild the index"
                    )
                parts.append((encoder, float(part.get("weight", 1.0)), bool(part.get("transformed", True))))
        else:
            for part in layout:
                # The name is a plain folder name (read_index_info), and the folder must stay inside the index.
                encoder = load_encoder(resolve_inside(directory, ENCODERS_DIR, part["name"]), expected_fingerprint=part["fingerprint"])
                parts.append((encoder, float(part.get("weight", 1.0)), bool(part.get("transformed", True))))
        if transform is None:
            from street2shop.segmentation.step import step_from_record

            transform = step_from_record(info.get("settings") or {}, directory)
        embedder = Embedder(parts, transform=transform)
        loaded = cls(info, read_items(directory), read_vectors(directory, info), embedder, workdir=workdir)
        loaded.directory = directory
        return loaded

    def __len__(self) -> int:
        return len(self.items)

    def allowed_ids(self, filters: Filters | None) -> np.ndarray | None:
        """Item ids passing every filter (a value list per label column), or None for no filter."""
        mask = self.allowed_mask(filters)
        return None if mask is None else np.flatnonzero(mask).astype(np.int64)

    def allowed_mask(self, filters: Filters | None) -> np.ndarray | None:
        """A boolean mask of the items passing every filter, or None for no filter."""
        if not filters:
            return None
        mask = np.ones(len(self.items), dtype=bool)
        for column, wanted in filters.items():
            if column not in self._value_ids:
                known = ", ".join(self.label_columns + self.predicted_columns) or "none"
                raise InvalidParameter(f"unknown filter column {column!r}; the index's label columns are: {known}")
            values = [wanted] if isinstance(wanted, str) else list(wanted)
            if not values or not all(isinstance(v, str) for v in values):
                raise InvalidParameter(f"filter {column!r} must be a string or a non-empty list of strings")
            matching = np.zeros(len(self.items), dtype=bool)
            for value in {v.strip().lower() for v in values}:
                ids = self._value_ids[column].get(value)
                if ids is not None:
                    matching[ids] = True
            mask &= matching
        return mask

    def search_vectors(self, queries: np.ndarray, *, k: int = 10, filters: Filters | None = None) -> list[list[dict[str, Any]]]:
        """Top-``k`` products for each query vector (best view per product)."""
        if k < 1:
            raise InvalidParameter(f"k must be at least 1, got {k}")
        allowed = self.allowed_mask(filters)
        candidates = min(len(self.items), k * self._views_per_product) or 1
        scores, ids = self.vectors.search(queries, candidates, allowed_ids=allowed)
        # A stored unit vector cannot score beyond the query's norm: anything more is damage FAISS read as floats.
        bound = MAX_SCORE * np.linalg.norm(np.atleast_2d(np.asarray(queries, dtype=np.float64)), axis=1, keepdims=True)
        impossible = (ids >= 0) & ~(np.abs(scores) <= bound)  # NaN and inf count as impossible
        if impossible.any():
            worst = float(np.abs(scores[impossible]).max())
            raise IndexFormatError(f"{self.directory / VECTORS_FILE}: damaged (a score of {worst:.3g}, impossible for unit vectors); rebuild the index")
        return [self._collapse(row_scores, row_ids, k) for row_scores, row_ids in zip(scores, ids)]

    def search_pixels(self, images: Sequence[np.ndarray], *, k: int = 10, filters: Filters | None = None) -> list[list[dict[str, Any]]]:
        """Top-``k`` products for decoded RGB pictures."""
        return self.search_vectors(self.embedder.embed_arrays(list(images)), k=k, filters=filters)

    def search_bytes(self, data: bytes, *, k: int = 10, filters: Filters | None = None, max_pixels: int = DEFAULT_MAX_PIXELS) -> list[dict[str, Any]]:
        """Top-``k`` products for one encoded picture."""
        return self.search_pixels([decode_image(data, max_pixels=max_pixels, name="query", min_side=self.embedder.sizes[-1])], k=k, filters=filters)[0]

    def answer(
        self, data: bytes, *, k: int = 10, filters: Filters | None = None, max_pixels: int = DEFAULT_MAX_PIXELS, person_model: Any = None
    ) -> QueryAnswer:
        """Answer one encoded picture the way the catalogue was processed, timing each stage.

        With a ``person_model`` (``segmentation.person.PersonModel``) the answer also holds, when it
        finds a person, the products for each garment they wear (``outfit``, see ``index.outfit``).
        """
        self.allowed_mask(filters)  # a bad filter fails before any work is done
        started = time.perf_counter()
        # Garment boxes are given in the query's own pixels: a JPEG is then decoded at full scale.
        min_side = None if person_model is not None else self.embedder.sizes[-1]
        pixels = decode_image(data, max_pixels=max_pixels, name="query", min_side=min_side)
        decoded = time.perf_counter()
        garment = self.embedder.cut(pixels)
        segmented = garment is not None
        cut = time.perf_counter()
        vector, probabilities = self.embedder.embed_arrays_with_attributes([pixels], cuts=[garment])
        embedded = time.perf_counter()
        results = self.search_vectors(vector, k=k, filters=filters)[0]
        searched = time.perf_counter()
        timing = {
            "decode": (decoded - started) * 1000,
            "segment": (cut - decoded) * 1000,
            "embed": (embedded - cut) * 1000,
            "search": (searched - embedded) * 1000,
        }
        outfit = None
        if person_model is not None:
            from street2shop.index.outfit import answer_outfit

            outfit = answer_outfit(self, pixels, person_model, k=k, filters=filters)
            if outfit is None:
                timing["person"] = (time.perf_counter() - searched) * 1000
            else:
                timing.update(outfit.timing_ms)
        return QueryAnswer(
            results=results,
            attributes=self.predicted_attributes(probabilities),
            segmented=segmented,
            timing_ms={name: round(ms, 3) for name, ms in timing.items()},
            outfit=outfit,
        )

    def predicted_attributes(self, probabilities: dict[str, np.ndarray], row: int = 0, k: int = 3) -> dict[str, list[dict[str, Any]]]:
        """Per attribute model, one picture's top classes with their probabilities."""
        from street2shop.models.predictions import top_classes

        predicted = {}
        for encoder in self.embedder.attribute_models:
            if encoder.name in probabilities:
                predicted[encoder.name] = top_classes(
                    probabilities[encoder.name][row], encoder.classes or [], multilabel=encoder.multilabel, k=k
                )
        return predicted

    def _collapse(self, scores: np.ndarray, ids: np.ndarray, k: int) -> list[dict[str, Any]]:
        results, seen = [], set()
        for score, item_id in zip(scores.tolist(), ids.tolist()):
            if item_id < 0:
                continue
            product = self._products[item_id]
            if product in seen:
                continue
            seen.add(product)
            results.append(
                {
                    "product_id": product,
                    "score": round(score, 6),
                    "image": self._images[item_id],
                    "labels": {column: values[item_id] for column, values in self._labels.items()},
                }
            )
            if len(results) == k:
                break
        return results

    def close(self) -> None:
        """Remove the local copy of a downloaded index."""
        if self._workdir is not None:
            self._workdir.cleanup()
            self._workdir = None


def _plain(value: Any) -> Any:
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return None
    return value.item() if hasattr(value, "item") else value


def _ids_by_value(column: pd.Series) -> dict[str, np.ndarray]:
    """Lower-cased label value -> the ids of the items carrying it (multi-valued cells split)."""
    lists: dict[str, list[int]] = {}
    for item_id, value in enumerate(column):
        for label in {v.lower() for v in split_labels(value)}:
            lists.setdefault(label, []).append(item_id)
    return {label: np.asarray(ids, dtype=np.int64) for label, ids in lists.items()}
