"""Outputs replaced as a whole: a local directory swapped in by rename, a managed folder written as versions
behind a pointer file (read back by ``storage.published``), and ``write_atomic`` for one file."""

from __future__ import annotations

import ctypes
import errno
import functools
import logging
import os
import secrets
import shutil
import sys
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Protocol

from street2shop.errors import InvalidParameter, StorageError
from street2shop.storage.managed_folder import folder_name, folder_paths, partition_root
from street2shop.storage.published import POINTER_FILE, VERSION_RE

logger = logging.getLogger(__name__)


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
    new one is complete. The folder (or, in a partitioned folder, the target partition's
    directory: everything happens under it, the other partitions are never touched) is owned by
    this output: entries that are not the pointer or a version are removed too.
    """

    def __init__(self, folder: Any):
        for method in ("upload_stream", "write_json", "list_paths_in_partition", "delete_path"):
            if not callable(getattr(folder, method, None)):
                raise InvalidParameter(f"{folder!r} is not a writable managed folder: it has no {method}()")
        self.folder = folder
        self.root = partition_root(folder, writing=True)
        self.description = folder_name(folder) + (f" (partition {folder.writePartition})" if self.root else "")

    def _path(self, relative: str) -> str:
        return "/" + (f"{self.root}/{relative}" if self.root else relative)

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
                    self.folder.upload_stream(self._path(f"{version}/{relative}"), stream)
        except BaseException as err:
            self._delete_quietly(version)
            if isinstance(err, Exception) and not isinstance(err, StorageError):
                raise StorageError(f"cannot upload to {self.description}: {err}") from err
            raise
        written_at = datetime.now(timezone.utc).isoformat(timespec="seconds")
        try:
            self.folder.write_json(self._path(POINTER_FILE), {"current": version, "written_at": written_at})
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
            self.folder.delete_path(self._path(top))
        except Exception as err:  # noqa: BLE001 - cleanup must not hide the original outcome
            logger.warning("could not remove %s from %s: %s", top, self.description, err)

    def _prune(self, current: str) -> None:
        """Remove older versions and stray root entries; failures only log (the pointer is already switched)."""
        try:
            paths = folder_paths(self.folder)
        except StorageError as err:
            logger.warning("could not list %s to remove old versions: %s", self.description, err)
            return
        if self.root:
            paths = [path[len(self.root) + 1 :] for path in paths if path.startswith(self.root + "/")]
        for top in sorted({path.split("/", 1)[0] for path in paths}):
            if top in (POINTER_FILE, current):
                continue
            if VERSION_RE.match(top) and top > current:
                continue  # a newer publish running beside this one
            self._delete_quietly(top)


#: How old a staging folder without a lock file (left by a street2shop before the locks) must be to be removed.
UNLOCKED_STALE_S = 24 * 3600


@contextmanager
def staging_directory(prefix: str, parent: str | Path | None = None) -> Iterator[Path]:
    """A new directory ``<parent>/<prefix><random>`` (default: the system temporary directory), removed on exit.

    A writer killed with ``kill -9`` cannot remove it, so it holds an exclusive lock on the
    sibling ``<name>.lock`` file while it lives; :func:`remove_stale_staging` (run first here)
    removes the directories whose lock nobody holds any more: their writer is dead.
    """
    parent = Path(parent or tempfile.gettempdir())
    remove_stale_staging(prefix, parent)
    path = parent / f"{prefix}{secrets.token_hex(8)}"
    lock = _hold_lock(path.with_name(path.name + ".lock"))  # before the directory: never a directory without a lock
    try:
        path.mkdir()
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)
        path.with_name(path.name + ".lock").unlink(missing_ok=True)
        if lock is not None:
            os.close(lock)


def remove_stale_staging(prefix: str, parent: str | Path | None = None) -> list[Path]:
    """Remove the ``<prefix>*`` staging directories under ``parent`` whose writer is dead; returns them.

    A directory with a lock file is stale when its lock can be taken; one without (an older
    street2shop's) when it is older than :data:`UNLOCKED_STALE_S`. Where locks are not available
    (not POSIX), nothing is removed.
    """
    parent = Path(parent or tempfile.gettempdir())
    try:
        import fcntl
    except ImportError:
        return []
    removed = []
    try:
        candidates = [p for p in parent.glob(prefix + "*") if p.is_dir() and not p.is_symlink()]
    except OSError:
        return []
    for path in candidates:
        lock_path = path.with_name(path.name + ".lock")
        try:
            if lock_path.exists():
                handle = os.open(lock_path, os.O_RDWR)
                try:
                    fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                except BlockingIOError:
                    continue  # its writer is alive
                try:
                    shutil.rmtree(path, ignore_errors=True)
                    lock_path.unlink(missing_ok=True)
                finally:
                    os.close(handle)
            elif datetime.now().timestamp() - path.stat().st_mtime > UNLOCKED_STALE_S:
                shutil.rmtree(path, ignore_errors=True)
            else:
                continue
        except OSError as err:
            logger.warning("could not remove the stale staging folder %s: %s", path, err)
            continue
        logger.info("removed the stale staging folder %s (its writer is gone)", path)
        removed.append(path)
    return removed


def _hold_lock(path: Path) -> int | None:
    """Open ``path`` and hold an exclusive lock on it until the descriptor is closed (None where unsupported)."""
    try:
        import fcntl
    except ImportError:
        return None
    handle = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    fcntl.flock(handle, fcntl.LOCK_EX)
    return handle


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
