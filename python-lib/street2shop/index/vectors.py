"""FAISS inner-product index over L2-normalised vectors: exact, IVF or HNSW, with filtered search."""

from __future__ import annotations

import logging
import math

import numpy as np

from street2shop.errors import IndexFormatError, InvalidParameter

logger = logging.getLogger(__name__)

INDEX_KINDS = ("flat", "ivf", "hnsw")


class VectorIndex:
    """Nearest neighbours by inner product (cosine on unit vectors).

    Args:
        kind: ``flat`` (exact, the default), ``ivf`` (inverted lists, for large catalogues) or
            ``hnsw`` (graph).
        nlist: IVF lists; default ``4 * sqrt(n)``.
        nprobe: IVF lists visited per query.
        hnsw_m: HNSW neighbours per node.
        ef_search: HNSW search breadth.

    Example:
        >>> index = VectorIndex(kind="flat").fit(vectors)
        >>> scores, ids = index.search(queries, k=10)
    """

    def __init__(self, *, kind: str = "flat", nlist: int | None = None, nprobe: int = 16, hnsw_m: int = 32, ef_search: int = 128):
        self.kind = kind
        self.nlist = nlist
        self.nprobe = nprobe
        self.hnsw_m = hnsw_m
        self.ef_search = ef_search

    def fit(self, vectors: np.ndarray) -> VectorIndex:
        """Build the index over ``vectors`` (rows are item ids 0..n-1)."""
        import faiss

        if self.kind not in INDEX_KINDS:
            raise InvalidParameter(f"unknown index type {self.kind!r}; choose one of {', '.join(INDEX_KINDS)}")
        vectors = _as_matrix(vectors)
        n, dim = vectors.shape
        if self.kind == "flat":
            index = faiss.IndexFlatIP(dim)
        elif self.kind == "hnsw":
            index = faiss.IndexHNSWFlat(dim, self.hnsw_m, faiss.METRIC_INNER_PRODUCT)
            index.hnsw.efSearch = self.ef_search
        else:
            nlist = self.nlist or max(1, int(4 * math.sqrt(max(n, 1))))
            if n < nlist * 39:
                raise InvalidParameter(
                    f"an IVF index with {nlist} lists needs at least {nlist * 39} vectors to train, got {n}; "
                    "use the flat index (exact) for a catalogue this size, or set fewer lists"
                )
            quantizer = faiss.IndexFlatIP(dim)
            index = faiss.IndexIVFFlat(quantizer, dim, nlist, faiss.METRIC_INNER_PRODUCT)
            index.train(vectors)
            index.nprobe = min(self.nprobe, nlist)
        if n:
            index.add(vectors)
        self.index_ = index
        self.dim_ = dim
        return self

    @property
    def size(self) -> int:
        return int(self.index_.ntotal)

    def search(self, queries: np.ndarray, k: int, *, allowed_ids: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Top-``k`` neighbours of each query, optionally among allowed items only.

        Args:
            allowed_ids: the allowed item ids, or a boolean mask over all items.

        Returns:
            ``(scores, ids)``, both ``(n_queries, k)``; missing neighbours have id -1.
        """
        import faiss

        queries = _as_matrix(queries)
        if queries.shape[1] != self.dim_:
            raise InvalidParameter(f"query vectors have {queries.shape[1]} dimensions, the index {self.dim_}")
        if k < 1:
            raise InvalidParameter(f"k must be at least 1, got {k}")
        params, bitmap = None, None
        if allowed_ids is not None:
            bitmap = _allowed_bitmap(np.asarray(allowed_ids), self.size)
            if bitmap is None:
                return np.full((len(queries), k), -np.inf, np.float32), np.full((len(queries), k), -1, np.int64)
            # A bitmap selector costs one bit test per candidate and nothing to build, unlike a hash set of ids.
            selector = faiss.IDSelectorBitmap(self.size, faiss.swig_ptr(bitmap))
            if self.kind == "ivf":
                params = faiss.SearchParametersIVF(sel=selector, nprobe=self.index_.nprobe)
            elif self.kind == "hnsw":
                params = faiss.SearchParametersHNSW(sel=selector, efSearch=self.ef_search)
            else:
                params = faiss.SearchParameters(sel=selector)
        scores, ids = self.index_.search(queries, k, params=params)
        del bitmap  # kept alive until FAISS is done with it
        return scores, ids

    def to_bytes(self) -> bytes:
        """Serialise the FAISS index."""
        import faiss

        return faiss.serialize_index(self.index_).tobytes()

    @classmethod
    def from_bytes(cls, data: bytes, *, kind: str, nprobe: int = 16, ef_search: int = 128) -> VectorIndex:
        """Load an index serialised by :meth:`to_bytes`."""
        import faiss

        try:
            index = faiss.deserialize_index(np.frombuffer(data, dtype=np.uint8))
        except RuntimeError as err:
            raise IndexFormatError(f"the FAISS index file is unreadable: {err}") from err
        loaded = cls(kind=kind, nprobe=nprobe, ef_search=ef_search)
        if kind == "hnsw":
            index.hnsw.efSearch = ef_search
        loaded.index_ = index
        loaded.dim_ = int(index.d)
        return loaded


def _allowed_bitmap(allowed: np.ndarray, size: int) -> np.ndarray | None:
    """FAISS's bitmap (bit ``i & 7`` of byte ``i >> 3``) of the allowed items, or None when none is."""
    if allowed.dtype == bool:
        if allowed.shape != (size,):
            raise InvalidParameter(f"the allowed-items mask has {allowed.size} entries for an index of {size} items")
        mask = allowed
    else:
        ids = allowed.astype(np.int64, copy=False).ravel()
        if ids.size and (ids.min() < 0 or ids.max() >= size):
            raise InvalidParameter(f"allowed item ids must be in [0, {size}), got {ids.min()}..{ids.max()}")
        mask = np.zeros(size, dtype=bool)
        mask[ids] = True
    if not mask.any():
        return None
    return np.packbits(mask, bitorder="little")


def _as_matrix(vectors: np.ndarray) -> np.ndarray:
    array = np.ascontiguousarray(vectors, dtype=np.float32)
    if array.ndim != 2:
        raise InvalidParameter(f"vectors must be a 2-D array, got shape {array.shape}")
    return array
