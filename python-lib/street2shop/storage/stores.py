"""What images are read through: the ``ImageStore`` protocol, ``ImageSource`` for manifest values,
``open_image_store``/``image_source`` to get one, and bounded concurrent reads (``ordered_map``, ``read_many``)."""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, Protocol, TypeVar

from street2shop.errors import InvalidParameter, StorageError
from street2shop.storage.local import LocalImageStore
from street2shop.storage.s3 import S3ImageStore, S3PrefixStore

T = TypeVar("T")
R = TypeVar("R")


class ImageStore(Protocol):
    """Reads image bytes by relative path and lists what a store holds."""

    description: str

    def read_bytes(self, path: str) -> bytes:
        """Return the file's bytes; raise StorageError (message starting 'missing: ' when absent)."""
        ...

    def list_files(self, prefix: str = "") -> list[str]:
        """Return the files whose path starts with ``prefix``, '/'-separated, sorted."""
        ...



class ImageSource:
    """Resolves manifest ``image`` values: 's3://' URIs through S3, anything else relative to ``base``."""

    def __init__(self, base: ImageStore | None, s3: S3ImageStore | None = None):
        self.base = base
        if s3 is None and isinstance(base, S3PrefixStore):
            s3 = base.s3  # one client, one connection pool
        self._s3 = s3
        self._lock = threading.Lock()

    @property
    def description(self) -> str:
        return self.base.description if self.base is not None else "s3"

    @property
    def s3(self) -> S3ImageStore:
        """The S3 store used for 's3://' images, created on first use."""
        if self._s3 is None:
            with self._lock:
                if self._s3 is None:
                    self._s3 = S3ImageStore()
        return self._s3

    def read_bytes(self, image: str) -> bytes:
        """Return the bytes of one manifest ``image`` value."""
        if not isinstance(image, str) or not image.strip():
            raise StorageError(f"empty image path: {image!r}")
        if image.lower().startswith("s3://"):
            return self.s3.read_bytes(image)
        if self.base is None:
            raise StorageError(f"{image}: a relative image path needs an image folder, and none was given")
        return self.base.read_bytes(image)


def open_image_store(location: str | Path) -> ImageStore:
    """Open an image folder: a local directory path or an 's3://bucket/prefix' URI."""
    if isinstance(location, str) and location.lower().startswith("s3://"):
        return S3PrefixStore(location)
    return LocalImageStore(location)


def image_source(images: Any) -> ImageSource:
    """An ``ImageSource`` from a directory, an ``s3://`` prefix, an image store or a source."""
    if isinstance(images, ImageSource):
        return images
    if isinstance(images, (str, Path)):
        return ImageSource(open_image_store(images))
    return ImageSource(images)


def ordered_map(
    func: Callable[[T], R], items: Iterable[T], *, max_workers: int = 8, window: int | None = None
) -> Iterator[tuple[int, R]]:
    """Apply ``func`` to ``items`` in a thread pool, yielding ``(index, result)`` in input order.

    At most ``window`` items (default ``2 * max_workers``) are submitted and not yet yielded, so
    memory stays bounded however long ``items`` is and however slow the consumer. ``items`` is
    consumed lazily. Exceptions raised by ``func`` propagate to the consumer.
    """
    if max_workers < 1:
        raise InvalidParameter(f"max_workers must be at least 1, not {max_workers}")
    window = window if window is not None else 2 * max_workers
    if window < max_workers:
        raise InvalidParameter(f"window ({window}) must be at least max_workers ({max_workers})")
    with ThreadPoolExecutor(max_workers=max_workers, thread_name_prefix="street2shop-io") as pool:
        pending: deque = deque()
        try:
            for index, item in enumerate(items):
                pending.append((index, pool.submit(func, item)))
                if len(pending) >= window:
                    done_index, future = pending.popleft()
                    yield done_index, future.result()
            while pending:
                done_index, future = pending.popleft()
                yield done_index, future.result()
        finally:
            # Reached when the consumer stops early or func raised: drop work not yet started.
            for _, future in pending:
                future.cancel()


def read_many(
    source: ImageSource | ImageStore, images: Iterable[str], *, max_workers: int = 8
) -> Iterator[tuple[int, bytes | None, str | None]]:
    """Read many images concurrently; yield ``(index, bytes or None, reason or None)`` in input order.

    A row that cannot be read yields its reason instead of raising, so one bad row never stops
    the others.
    """

    def read(image: str) -> tuple[bytes | None, str | None]:
        try:
            return source.read_bytes(image), None
        except StorageError as err:
            return None, str(err)
        except Exception as err:  # noqa: BLE001 - a duck-typed store may raise anything; the row is reported
            return None, f"cannot read {image}: {type(err).__name__}: {err}"

    for index, (data, error) in ordered_map(read, images, max_workers=max_workers):
        yield index, data, error
