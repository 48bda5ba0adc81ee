"""Where images and outputs live: a local directory, a DSS managed folder (duck-typed) or S3."""

from __future__ import annotations

import ctypes
import errno
import functools
import json
import logging
import os
import re
import secrets
import shutil
import sys
import tempfile
import threading
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Protocol, TypeVar

from street2shop.errors import InvalidParameter, StorageError

logger = logging.getLogger(__name__)

T = TypeVar("T")
R = TypeVar("R")

#: Name of the file, at a published folder's root, that names the version readers must use.
POINTER_FILE = "street2shop-current.json"

_VERSION_RE = re.compile(r"^v-[0-9]{8}T[0-9]{12}Z-[0-9a-f]+$")
_MISSING_HINTS = ("does not exist", "not found", "no such", "404", "nosuchkey")


class ImageStore(Protocol):
    """Reads image bytes by relative path and lists what a store holds."""

    description: str

    def read_bytes(self, path: str) -> bytes:
        """Return the file's bytes; raise StorageError (message starting 'missing: ' when absent)."""
        ...

    def list_files(self, prefix: str = "") -> list[str]:
        """Return the files whose path starts with ``prefix``, '/'-separated, sorted."""
        ...


def _clean_relative(path: str, *, allow_leading_slash: bool = False, allow_empty: bool = False) -> str:
    """Normalise a store path to 'a/b/c', refusing absolute paths and '..' components."""
    if not isinstance(path, str):
        raise StorageError(f"a path must be a string, not {type(path).__name__}: {path!r}")
    text = path.strip()
    if "\x00" in text:
        raise StorageError(f"path with a NUL character refused: {path!r}")
    if text.startswith("/") and not allow_leading_slash:
        raise StorageError(f"absolute path refused (paths are relative to the store): {path}")
    if re.match(r"^[A-Za-z]:[\\/]", text) or text.startswith("\\\\"):
        raise StorageError(f"absolute path refused (paths are relative to the store): {path}")
    parts = [part for part in text.split("/") if part not in ("", ".")]
    if ".." in parts:
        raise StorageError(f"path leaving the store refused ('..'): {path}")
    if not parts and not allow_empty:
        raise StorageError("empty path")
    return "/".join(parts)


def _looks_missing(err: BaseException) -> bool:
    """Whether an exception from a duck-typed store says the file does not exist."""
    if isinstance(err, (FileNotFoundError, KeyError)):
        return True
    text = str(err).lower()
    return any(hint in text for hint in _MISSING_HINTS)


class LocalImageStore:
    """Images in a local directory; paths may not leave it (no '..', no absolute path, no symlink out)."""

    def __init__(self, root: str | Path):
        self.root = Path(root)
        if not self.root.is_dir():
            raise StorageError(f"image folder not found or not a directory: {self.root}")
        self._real_root = os.path.realpath(self.root)
        self.description = str(self.root)

    def _resolve(self, path: str) -> str:
        relative = _clean_relative(path)
        real = os.path.realpath(os.path.join(self._real_root, relative))
        if not real.startswith(self._real_root + os.sep):
            raise StorageError(f"path leaving the image folder refused (symlink): {path}")
        return real

    def read_bytes(self, path: str) -> bytes:
        """Return the bytes of ``path``, relative to the root."""
        real = self._resolve(path)
        try:
            with open(real, "rb") as stream:
                return stream.read()
        except FileNotFoundError as err:
            raise StorageError(f"missing: {path} (in {self.description})") from err
        except IsADirectoryError as err:
            raise StorageError(f"not a file: {path} (in {self.description})") from err
        except OSError as err:
            raise StorageError(f"cannot read {path} (in {self.description}): {err.strerror or err}") from err

    def list_files(self, prefix: str = "") -> list[str]:
        """Return files under the root whose relative path starts with ``prefix`` (symlinks out skipped)."""
        cleaned = _clean_relative(prefix, allow_empty=True)
        if cleaned and prefix.endswith("/"):
            cleaned += "/"
        inside = self._real_root + os.sep
        start = self._real_root
        if "/" in cleaned:
            start = os.path.join(start, cleaned.rsplit("/", 1)[0])
            if not os.path.realpath(start).startswith(inside):
                return []
        found = []
        # os.walk does not descend into symlinked directories; symlinked files are checked one by one.
        for directory, _subdirs, files in os.walk(start):
            for name in files:
                full = os.path.join(directory, name)
                relative = os.path.relpath(full, self._real_root).replace(os.sep, "/")
                if not relative.startswith(cleaned):
                    continue
                if os.path.islink(full) and not os.path.realpath(full).startswith(inside):
                    continue
                found.append(relative)
        return sorted(found)


def _folder_name(folder: Any) -> str:
    """A readable name for a duck-typed managed folder."""
    get_name = getattr(folder, "get_name", None)
    if callable(get_name):
        try:
            return f"managed folder {get_name()}"
        except Exception:  # noqa: BLE001 - only used to name the folder in messages
            pass
    return f"managed folder {getattr(folder, 'name', type(folder).__name__)}"


def _folder_paths(folder: Any, partition: str = "") -> list[str]:
    """All file paths of a duck-typed folder, without the leading '/'."""
    try:
        paths = folder.list_paths_in_partition(partition) if partition else folder.list_paths_in_partition()
    except Exception as err:  # noqa: BLE001 - DSS raises plain Exceptions
        raise StorageError(f"cannot list {_folder_name(folder)}: {err}") from err
    return sorted(str(path).lstrip("/") for path in paths)


def _folder_read(folder: Any, path: str, description: str) -> bytes:
    """Read one file of a duck-typed folder through its download stream."""
    try:
        with folder.get_download_stream("/" + path) as stream:
            return stream.read()
    except Exception as err:  # noqa: BLE001 - DSS raises plain Exceptions
        if _looks_missing(err):
            raise StorageError(f"missing: {path} (in {description})") from err
        raise StorageError(f"cannot read {path} (in {description}): {err}") from err


class FolderImageStore:
    """Images in a DSS managed folder, through its stream API (works for every backend; no ``get_path``)."""

    def __init__(self, folder: Any, partition: str = ""):
        for method in ("get_download_stream", "list_paths_in_partition"):
            if not callable(getattr(folder, method, None)):
                raise InvalidParameter(f"{folder!r} is not a managed folder: it has no {method}()")
        self.folder = folder
        self.partition = partition
        self.description = _folder_name(folder)

    def read_bytes(self, path: str) -> bytes:
        """Return the bytes of ``path`` (relative to the folder root; a leading '/' is accepted)."""
        return _folder_read(self.folder, _clean_relative(path, allow_leading_slash=True), self.description)

    def list_files(self, prefix: str = "") -> list[str]:
        """Return the folder's (partition's) files whose path starts with ``prefix``."""
        prefix = prefix.lstrip("/")
        return [path for path in _folder_paths(self.folder, self.partition) if path.startswith(prefix)]


def parse_s3_uri(uri: str) -> tuple[str, str]:
    """Split 's3://bucket/key' into (bucket, key); the key may be empty."""
    if not isinstance(uri, str) or not uri.lower().startswith("s3://"):
        raise StorageError(f"not an s3:// URI: {uri!r}")
    bucket, _, key = uri[5:].partition("/")
    if not bucket:
        raise StorageError(f"s3 URI without a bucket: {uri}")
    return bucket, key


class S3ImageStore:
    """Objects in S3 addressed by full 's3://bucket/key' URIs.

    Credentials come from boto3's standard chain (environment, profile, instance role). The
    client is created on first use and shared by the reading threads (boto3 clients are
    thread-safe); its connection pool should be at least the number of reading threads.
    """

    description = "s3"

    def __init__(
        self,
        *,
        client: Any = None,
        max_pool_connections: int = 16,
        retries: int = 5,
        region_name: str | None = None,
        endpoint_url: str | None = None,
    ):
        if max_pool_connections < 1 or retries < 1:
            raise InvalidParameter("max_pool_connections and retries must be at least 1")
        self._client = client
        self._lock = threading.Lock()
        self.max_pool_connections = max_pool_connections
        self.retries = retries
        self.region_name = region_name
        self.endpoint_url = endpoint_url

    @property
    def client(self) -> Any:
        """The boto3 S3 client, created on first use."""
        if self._client is None:
            with self._lock:
                if self._client is None:
                    self._client = self._make_client()
        return self._client

    def _make_client(self) -> Any:
        import boto3
        from botocore.config import Config
        from botocore.exceptions import BotoCoreError

        config = Config(
            retries={"mode": "standard", "max_attempts": self.retries},
            max_pool_connections=self.max_pool_connections,
        )
        try:
            # A session per store: boto3's default session is not thread-safe to create clients from.
            return boto3.session.Session().client(
                "s3", region_name=self.region_name, endpoint_url=self.endpoint_url, config=config
            )
        except BotoCoreError as err:
            raise StorageError(f"cannot create an S3 client: {err}") from err

    def _error(self, uri: str, err: Exception) -> StorageError:
        """Turn a botocore error into a StorageError naming the URI and the AWS error code."""
        response = getattr(err, "response", None)
        if isinstance(response, dict):
            error = response.get("Error", {})
            code = str(error.get("Code", "unknown"))
            message = error.get("Message") or ""
            if code in ("NoSuchKey", "404", "NotFound", "NoSuchBucket"):
                return StorageError(f"missing: {uri} ({code})")
            return StorageError(f"cannot read {uri}: {code}{': ' + message if message else ''}")
        return StorageError(f"cannot read {uri}: {type(err).__name__}: {err}")

    def read_bytes(self, path: str) -> bytes:
        """Return the bytes of the object at ``path``, an 's3://bucket/key' URI."""
        from botocore.exceptions import BotoCoreError, ClientError

        bucket, key = parse_s3_uri(path)
        if not key or key.endswith("/"):
            raise StorageError(f"not an object URI (no key): {path}")
        try:
            response = self.client.get_object(Bucket=bucket, Key=key)
            return response["Body"].read()
        except (ClientError, BotoCoreError, OSError) as err:
            raise self._error(path, err) from err

    def list_files(self, prefix: str = "") -> list[str]:
        """Return the full URIs of the objects under ``prefix``, an 's3://bucket/prefix' URI.

        The paths of this store are URIs, so what it lists can be passed back to ``read_bytes``.
        """
        from botocore.exceptions import BotoCoreError, ClientError

        bucket, key_prefix = parse_s3_uri(prefix)
        uris = []
        try:
            paginator = self.client.get_paginator("list_objects_v2")
            for page in paginator.paginate(Bucket=bucket, Prefix=key_prefix):
                for item in page.get("Contents", []):
                    if not item["Key"].endswith("/"):  # "folder" placeholder objects
                        uris.append(f"s3://{bucket}/{item['Key']}")
        except (ClientError, BotoCoreError, OSError) as err:
            raise self._error(prefix, err) from err
        return sorted(uris)


class S3PrefixStore:
    """An S3 prefix seen as an image folder: paths are relative to 's3://bucket/prefix'."""

    def __init__(self, root: str, s3: S3ImageStore | None = None):
        bucket, key = parse_s3_uri(root)
        self._key_root = "/".join(part for part in key.split("/") if part)
        self.root = f"s3://{bucket}/{self._key_root}".rstrip("/")
        self.s3 = s3 if s3 is not None else S3ImageStore()
        self.description = self.root

    def _uri(self, path: str) -> str:
        return f"{self.root}/{path}"

    def read_bytes(self, path: str) -> bytes:
        """Return the bytes of ``path``, relative to the prefix."""
        return self.s3.read_bytes(self._uri(_clean_relative(path)))

    def list_files(self, prefix: str = "") -> list[str]:
        """Return the objects under the prefix, relative to it."""
        start = self.root + "/"
        return [uri[len(start) :] for uri in self.s3.list_files(start + prefix.lstrip("/"))]


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


# --- Output folders -------------------------------------------------------------------------------


class OutputDir(Protocol):
    """A destination whose content is replaced as a whole."""

    def publish(self, local_dir: Path) -> None:
        """Make ``local_dir``'s tree the new content, atomically from a reader's point of view."""
        ...


def _new_version() -> str:
    stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%S%fZ")
    return f"v-{stamp}-{secrets.token_hex(4)}"


_AT_FDCWD = -100
_RENAME_EXCHANGE = 2


@functools.cache
def _renameat2() -> Callable[..., int] | None:
    if not sys.platform.startswith("linux"):
        return None
    try:
        function = ctypes.CDLL(None, use_errno=True).renameat2
    except (OSError, AttributeError):  # glibc before 2.28, musl
        return None
    function.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p, ctypes.c_uint]
    function.restype = ctypes.c_int
    return function


def _exchange(first: Path, second: Path) -> bool:
    """Swap two existing paths in one atomic step (Linux ``renameat2``); False where unsupported."""
    renameat2 = _renameat2()
    if renameat2 is None:
        return False
    if renameat2(_AT_FDCWD, os.fsencode(first), _AT_FDCWD, os.fsencode(second), _RENAME_EXCHANGE) == 0:
        return True
    code = ctypes.get_errno()
    if code in (errno.EINVAL, errno.ENOSYS, errno.ENOTSUP, errno.EOPNOTSUPP, errno.EXDEV):
        return False  # the filesystem cannot exchange: fall back to two renames
    raise OSError(code, os.strerror(code), str(second))


class LocalOutputDir:
    """A local directory replaced by rename: the new tree is built beside it, then swapped in.

    A crash before the swap leaves the previous tree untouched (plus a ``<name>.tmp-*`` sibling).
    On Linux the swap is one atomic exchange; elsewhere, or on filesystems without it, two
    renames (old aside to ``<name>.old-*``, new in; the old tree is put back if the second fails).
    """

    def __init__(self, path: str | Path):
        self.path = Path(path).absolute()
        self.description = str(self.path)

    def _sibling(self, kind: str) -> Path:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        return self.path.parent / f"{self.path.name}.{kind}-{secrets.token_hex(4)}"

    def publish(self, local_dir: str | Path, *, move: bool = False) -> None:
        """Copy (or, with ``move``, rename) ``local_dir`` into place, replacing the current tree."""
        source = Path(local_dir)
        if not source.is_dir():
            raise StorageError(f"nothing to publish: {source} is not a directory")
        staging = self._sibling("tmp")
        try:
            moved = False
            if move:
                try:
                    os.rename(source, staging)
                    moved = True
                except OSError:  # another filesystem: fall back to a copy
                    pass
            if not moved:
                shutil.copytree(source, staging, symlinks=False)
            self._swap(staging)
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)
            raise

    @contextmanager
    def staging(self) -> Iterator[Path]:
        """Yield an empty directory to write into; published on success, removed on error."""
        staging = self._sibling("tmp")
        staging.mkdir()
        try:
            yield staging
            self._swap(staging)
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)
            raise

    def _swap(self, staging: Path) -> None:
        if self.path.is_symlink() or (self.path.exists() and not self.path.is_dir()):
            raise StorageError(f"cannot publish to {self.path}: it exists and is not a directory")
        if self.path.exists() and _exchange(staging, self.path):
            shutil.rmtree(staging, ignore_errors=True)  # now holds the previous tree
            logger.info("published %s", self.path)
            return
        old = None
        if self.path.exists():
            old = self._sibling("old")
            os.rename(self.path, old)
        try:
            os.rename(staging, self.path)
        except BaseException:
            if old is not None:
                os.rename(old, self.path)
            raise
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
        logger.info("published %s", self.path)


class FolderOutputDir:
    """A DSS managed folder written as versions: files go under '/v-<utc>-<random>/', then the
    pointer file '/street2shop-current.json' is written last, then older versions are removed.

    Readers (``open_published``) go through the pointer, so they see the old version until the
    new one is complete. The folder is owned by this output: root entries that are not the
    pointer or a version are removed too.
    """

    def __init__(self, folder: Any):
        for method in ("upload_stream", "write_json", "list_paths_in_partition", "delete_path"):
            if not callable(getattr(folder, method, None)):
                raise InvalidParameter(f"{folder!r} is not a writable managed folder: it has no {method}()")
        self.folder = folder
        self.description = _folder_name(folder)

    def publish(self, local_dir: str | Path) -> None:
        """Upload ``local_dir``'s tree as a new version and switch the pointer to it."""
        source = Path(local_dir)
        if not source.is_dir():
            raise StorageError(f"nothing to publish: {source} is not a directory")
        version = _new_version()
        files = sorted(path for path in source.rglob("*") if path.is_file())
        try:
            for path in files:
                relative = path.relative_to(source).as_posix()
                with path.open("rb") as stream:
                    self.folder.upload_stream(f"/{version}/{relative}", stream)
        except BaseException as err:
            self._delete_quietly(version)
            if isinstance(err, Exception) and not isinstance(err, StorageError):
                raise StorageError(f"cannot upload to {self.description}: {err}") from err
            raise
        written_at = datetime.now(timezone.utc).isoformat(timespec="seconds")
        try:
            self.folder.write_json("/" + POINTER_FILE, {"current": version, "written_at": written_at})
        except Exception as err:
            self._delete_quietly(version)
            raise StorageError(f"cannot write {POINTER_FILE} to {self.description}: {err}") from err
        logger.info("published %d files to %s as %s", len(files), self.description, version)
        self._prune(version)

    @contextmanager
    def staging(self) -> Iterator[Path]:
        """Yield a local temporary directory to write into; published on success."""
        with tempfile.TemporaryDirectory(prefix="street2shop-out-") as tmp:
            yield Path(tmp)
            self.publish(tmp)

    def _delete_quietly(self, top: str) -> None:
        try:
            self.folder.delete_path("/" + top)
        except Exception as err:  # noqa: BLE001 - cleanup must not hide the original outcome
            logger.warning("could not remove %s from %s: %s", top, self.description, err)

    def _prune(self, current: str) -> None:
        """Remove older versions and stray root entries; failures only log (the pointer is already switched)."""
        try:
            paths = _folder_paths(self.folder)
        except StorageError as err:
            logger.warning("could not list %s to remove old versions: %s", self.description, err)
            return
        for top in sorted({path.split("/", 1)[0] for path in paths}):
            if top in (POINTER_FILE, current):
                continue
            if _VERSION_RE.match(top) and top > current:
                continue  # a newer publish running beside this one
            self._delete_quietly(top)


# --- Reading what was published -------------------------------------------------------------------


class PublishedReader(Protocol):
    """Read-only view of the current content of a published output."""

    description: str
    version: str | None

    def read_bytes(self, path: str) -> bytes: ...

    def list_files(self) -> list[str]: ...

    def exists(self, path: str) -> bool: ...

    def materialize(self, local_dir: str | Path | None = None) -> Path: ...


def _check_pointer(pointer: Any, where: str) -> str:
    current = pointer.get("current") if isinstance(pointer, dict) else None
    if not isinstance(current, str) or not _VERSION_RE.match(current):
        raise StorageError(f"{POINTER_FILE} in {where} does not name a version: {pointer!r}")
    return current


class LocalPublished:
    """A published local directory (a pointer file, if present, names the version directory)."""

    def __init__(self, path: str | Path):
        top = Path(path)
        if not top.is_dir():
            raise StorageError(f"no published output at {top} (not a directory)")
        self.version: str | None = None
        pointer_path = top / POINTER_FILE
        if pointer_path.is_file():
            try:
                pointer = json.loads(pointer_path.read_text(encoding="utf-8"))
            except (OSError, ValueError) as err:
                raise StorageError(f"cannot read {pointer_path}: {err}") from err
            self.version = _check_pointer(pointer, str(top))
            top = top / self.version
            if not top.is_dir():
                raise StorageError(f"{pointer_path} names {self.version}, which does not exist")
        self.root = Path(os.path.realpath(top))
        self._store = LocalImageStore(self.root)
        self.description = str(path)

    def read_bytes(self, path: str) -> bytes:
        return self._store.read_bytes(path)

    def list_files(self) -> list[str]:
        return [path for path in self._store.list_files() if path != POINTER_FILE]

    def exists(self, path: str) -> bool:
        try:
            return os.path.isfile(self._store._resolve(path))
        except StorageError:
            return False

    def materialize(self, local_dir: str | Path | None = None) -> Path:
        """Return the real directory holding the files (no copy is made; ``local_dir`` is unused)."""
        return self.root


class FolderPublished:
    """A published managed folder, read through its pointer file (or its root if it has none).

    The file list is read once, when opened; a version removed by a later publish while this
    reader is in use makes reads fail with StorageError, so ``materialize`` early for long work.
    """

    def __init__(self, folder: Any):
        for method in ("get_download_stream", "list_paths_in_partition"):
            if not callable(getattr(folder, method, None)):
                raise InvalidParameter(f"{folder!r} is not a managed folder: it has no {method}()")
        self.folder = folder
        self.description = _folder_name(folder)
        paths = _folder_paths(folder)
        self.version = None
        self._prefix = ""
        if POINTER_FILE in paths:
            pointer_bytes = _folder_read(folder, POINTER_FILE, self.description)
            try:
                pointer = json.loads(pointer_bytes.decode("utf-8"))
            except ValueError as err:
                raise StorageError(f"cannot read {POINTER_FILE} in {self.description}: {err}") from err
            self.version = _check_pointer(pointer, self.description)
            self._prefix = self.version + "/"
            self._files = [path[len(self._prefix) :] for path in paths if path.startswith(self._prefix)]
        else:
            self._files = paths
        self._file_set = set(self._files)

    def read_bytes(self, path: str) -> bytes:
        relative = _clean_relative(path, allow_leading_slash=True)
        if relative not in self._file_set:
            raise StorageError(f"missing: {relative} (in {self.description})")
        return _folder_read(self.folder, self._prefix + relative, self.description)

    def list_files(self) -> list[str]:
        return list(self._files)

    def exists(self, path: str) -> bool:
        try:
            return _clean_relative(path, allow_leading_slash=True) in self._file_set
        except StorageError:
            return False

    def materialize(self, local_dir: str | Path | None = None) -> Path:
        """Download every file into ``local_dir`` (a new temporary directory if None) and return it."""
        target = Path(local_dir) if local_dir is not None else Path(tempfile.mkdtemp(prefix="street2shop-"))
        for relative in self._files:
            destination = target.joinpath(*relative.split("/"))
            destination.parent.mkdir(parents=True, exist_ok=True)
            data = self.read_bytes(relative)
            partial = destination.with_name(destination.name + ".part")
            partial.write_bytes(data)
            os.replace(partial, destination)
        return target


def open_published(location: Any) -> PublishedReader:
    """Open what ``LocalOutputDir``/``FolderOutputDir`` published: a local path or a duck-typed Folder."""
    if isinstance(location, (str, os.PathLike)):
        if str(location).lower().startswith("s3://"):
            raise StorageError(f"published outputs are read from a directory or a managed folder, not {location}")
        return LocalPublished(location)
    return FolderPublished(location)


def write_atomic(path: str | Path, data: bytes) -> None:
    """Write ``data`` to ``path`` through a temporary file in the same directory, then rename it."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temp = tempfile.mkstemp(dir=path.parent, prefix=path.name + ".tmp-")
    try:
        with os.fdopen(handle, "wb") as out:
            out.write(data)
        os.replace(temp, path)
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise
