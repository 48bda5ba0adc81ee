"""Reading what ``storage.publish`` published: the version a pointer file names, or the folder itself."""

from __future__ import annotations

import json
import os
import re
import tempfile
from pathlib import Path
from typing import Any, Protocol

from street2shop.errors import InvalidParameter, StorageError
from street2shop.storage.local import LocalImageStore
from street2shop.storage.managed_folder import folder_name, folder_paths, folder_read, partition_root
from street2shop.storage.paths import clean_relative

#: Name of the file, at a published folder's root, that names the version readers must use.
POINTER_FILE = "street2shop-current.json"

#: The name of one published version: ``v-<utc stamp>-<random hex>``.
VERSION_RE = re.compile(r"^v-[0-9]{8}T[0-9]{12}Z-[0-9a-f]+$")


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
    if not isinstance(current, str) or not VERSION_RE.match(current):
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
        root = partition_root(folder, writing=False)
        self.description = folder_name(folder) + (f" (partition directory {root})" if root else "")
        paths = folder_paths(folder)
        if root:
            paths = [path[len(root) + 1 :] for path in paths if path.startswith(root + "/")]
        self.version = None
        self._prefix = root + "/" if root else ""
        if POINTER_FILE in paths:
            pointer_bytes = folder_read(folder, self._prefix + POINTER_FILE, self.description)
            try:
                pointer = json.loads(pointer_bytes.decode("utf-8"))
            except ValueError as err:
                raise StorageError(f"cannot read {POINTER_FILE} in {self.description}: {err}") from err
            self.version = _check_pointer(pointer, self.description)
            self._prefix += self.version + "/"
            self._files = [path[len(self.version) + 1 :] for path in paths if path.startswith(self.version + "/")]
        else:
            self._files = paths
        self._file_set = set(self._files)

    def read_bytes(self, path: str) -> bytes:
        relative = clean_relative(path, allow_leading_slash=True)
        if relative not in self._file_set:
            raise StorageError(f"missing: {relative} (in {self.description})")
        return folder_read(self.folder, self._prefix + relative, self.description)

    def list_files(self) -> list[str]:
        return list(self._files)

    def exists(self, path: str) -> bool:
        try:
            return clean_relative(path, allow_leading_slash=True) in self._file_set
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
