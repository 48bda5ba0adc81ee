"""Product thumbnails for the web page: only the catalogue's own pictures, resized, cached."""

from __future__ import annotations

import logging
import threading
from collections import OrderedDict
from collections.abc import Iterable
from typing import Any

from street2shop.errors import BadImage, StorageError
from street2shop.serving.recommend import ApiError

logger = logging.getLogger(__name__)


class Thumbnails:
    """Small JPEGs of the catalogue pictures an index names, read from their image store.

    A request can only name a picture of the index's item table, so it can never read another
    file of the store (and the store itself refuses '..', absolute paths and symlinks out).

    Args:
        source: reads the index's ``image`` values (an ``ImageSource`` or an image store).
        images: the index's ``image`` values, the only ones served.
        size: longest side of a thumbnail, in pixels.
        cache_size: thumbnails kept in memory.
    """

    def __init__(self, source: Any, images: Iterable[str], *, size: int = 320, cache_size: int = 512):
        self.source = source
        self.allowed = frozenset(str(image) for image in images)
        self.size = int(size)
        self._cache: OrderedDict[str, bytes] = OrderedDict()
        self._cache_size = int(cache_size)
        self._lock = threading.Lock()

    def get(self, image: Any) -> bytes:
        """The JPEG thumbnail of one catalogue picture.

        Raises:
            ApiError: 404 when ``image`` is not a picture of the index or cannot be read.
        """
        if not isinstance(image, str) or image not in self.allowed:
            raise ApiError("no such catalogue picture", 404)
        with self._lock:
            if image in self._cache:
                self._cache.move_to_end(image)
                return self._cache[image]
        data = self._make(image)
        with self._lock:
            self._cache[image] = data
            while len(self._cache) > self._cache_size:
                self._cache.popitem(last=False)
        return data

    def _make(self, image: str) -> bytes:
        import cv2

        from street2shop.images.decode import decode_image, encode_jpeg

        try:
            pixels = decode_image(self.source.read_bytes(image), name=image)
        except (StorageError, BadImage) as err:
            logger.warning("thumbnail of %s: %s", image, err)
            raise ApiError("catalogue picture unavailable", 404) from None
        height, width = pixels.shape[:2]
        scale = self.size / max(height, width)
        if scale < 1:
            pixels = cv2.resize(pixels, (max(1, round(width * scale)), max(1, round(height * scale))), interpolation=cv2.INTER_AREA)
        return encode_jpeg(pixels, 85)
