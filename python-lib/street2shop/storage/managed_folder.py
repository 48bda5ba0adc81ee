"""The one adapter to a DSS managed folder (``dataiku.Folder`` or anything shaped like it), through its
stream API, which works on every backend (no ``get_path``)."""

from __future__ import annotations

from typing import Any

from street2shop.errors import InvalidParameter, StorageError
from street2shop.storage.paths import clean_relative, looks_missing


def folder_name(folder: Any) -> str:
    """A readable name for a duck-typed managed folder."""
    get_name = getattr(folder, "get_name", None)
    if callable(get_name):
        try:
            return f"managed folder {get_name()}"
        except Exception:  # noqa: BLE001 - only used to name the folder in messages
            pass
    return f"managed folder {getattr(folder, 'name', type(folder).__name__)}"


def partition_root(folder: Any, *, writing: bool) -> str:
    """The directory (no leading or trailing '/') of the partition a recipe writes or reads; '' when unpartitioned.

    DSS sets ``writePartition`` (outputs) and ``read_partitions`` (inputs) on a ``dataiku.Folder`` from the
    Flow, and ``get_partition_folder(partition)`` gives that partition's directory (DSS 9.0.5
    ``dataiku/core/managed_folder.py``); Dataiku's similarity-search plugin computes the same directory
    from the folder's ``filePathPattern``. Paths in the folder API stay relative to the folder's root.

    Raises:
        StorageError: several read partitions, or a partition with no directory of its own.
    """
    if writing:
        partition = getattr(folder, "writePartition", None)
    else:
        partitions = getattr(folder, "read_partitions", None) or []
        if len(partitions) > 1:
            raise StorageError(f"{folder_name(folder)}: {len(partitions)} partitions are read ({', '.join(map(str, partitions))}); "
                               "a street2shop output is read one partition at a time: use an 'Equals' partition dependency")
        partition = partitions[0] if partitions else None
    if not partition:
        return ""
    try:
        directory = str(folder.get_partition_folder(partition)).strip("/")
    except Exception as err:  # noqa: BLE001 - DSS raises plain Exceptions
        raise StorageError(f"cannot find partition {partition!r} of {folder_name(folder)}: {err}") from err
    if not directory:
        raise StorageError(f"partition {partition!r} of {folder_name(folder)} has no directory of its own: "
                           "partition the folder by directory (a pattern like %{dimension}/.*)")
    return directory


def folder_paths(folder: Any, partition: str = "") -> list[str]:
    """All file paths of a duck-typed folder, without the leading '/'."""
    try:
        paths = folder.list_paths_in_partition(partition) if partition else folder.list_paths_in_partition()
    except Exception as err:  # noqa: BLE001 - DSS raises plain Exceptions
        raise StorageError(f"cannot list {folder_name(folder)}: {err}") from err
    return sorted(str(path).lstrip("/") for path in paths)


def folder_read(folder: Any, path: str, description: str) -> bytes:
    """Read one file of a duck-typed folder through its download stream."""
    try:
        with folder.get_download_stream("/" + path) as stream:
            return stream.read()
    except Exception as err:  # noqa: BLE001 - DSS raises plain Exceptions
        if looks_missing(err):
            raise StorageError(f"missing: {path} (in {description})") from err
        raise StorageError(f"cannot read {path} (in {description}): {err}") from err



def folder_write(folder: Any, path: str, data: bytes) -> None:
    """Write one whole file of a duck-typed folder (each upload is durable at once, on any backend)."""
    folder.upload_data("/" + path.lstrip("/"), data)


class FolderImageStore:
    """Images in a DSS managed folder, through its stream API (works for every backend; no ``get_path``)."""

    def __init__(self, folder: Any, partition: str = ""):
        for method in ("get_download_stream", "list_paths_in_partition"):
            if not callable(getattr(folder, method, None)):
                raise InvalidParameter(f"{folder!r} is not a managed folder: it has no {method}()")
        self.folder = folder
        self.partition = partition
        self.description = folder_name(folder)

    def read_bytes(self, path: str) -> bytes:
        """Return the bytes of ``path`` (relative to the folder root; a leading '/' is accepted)."""
        return folder_read(self.folder, clean_relative(path, allow_leading_slash=True), self.description)

    def list_files(self, prefix: str = "") -> list[str]:
        """Return the folder's (partition's) files whose path starts with ``prefix``."""
        prefix = prefix.lstrip("/")
        return [path for path in folder_paths(self.folder, self.partition) if path.startswith(prefix)]
