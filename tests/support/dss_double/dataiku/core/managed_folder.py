"""``dataiku.Folder`` over a local directory: stream I/O only, no direct filesystem access by default."""

from __future__ import annotations

import atexit
import io
import json
import os
import shutil
from typing import Any, BinaryIO

from dataiku._double import context, storage
from dataiku.core import default_project_key, flow

_CHUNK = 1 << 20


class DownloadStream(io.RawIOBase):
    """What ``get_download_stream`` returns: a readable, *non-seekable* stream, like DSS's HTTP body."""

    def __init__(self, path: str, label: str):
        super().__init__()
        self._f = open(path, "rb")
        self.name = label

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return False

    def readinto(self, b) -> int:
        return self._f.readinto(b)

    def close(self) -> None:
        if not self.closed:
            self._f.close()
        super().close()


class ManagedFolderWriter:
    """Incremental upload of one file; the file appears (whole) only when the writer is closed."""

    active_writers: dict[str, "ManagedFolderWriter"] = {}

    @staticmethod
    def atexit_handler() -> None:
        pending = list(ManagedFolderWriter.active_writers.items())
        ManagedFolderWriter.active_writers = {}
        for name, writer in pending:
            print(f"WARNING : A folder writer MUST be closed ({name})")
            writer.close()

    def __init__(self, project_key: str, folder_id: str, path: str):
        self.project_key = project_key
        self.folder_id = folder_id
        self.path = path
        self.full_name = f"{project_key}.{folder_id}"
        self._rel = storage.clean_path(path)
        if ManagedFolderWriter.active_writers.get(self.full_name):
            raise Exception("Unable to instanciate a new folder writer. There is already another active writer "
                            f"for this folder ({self.full_name}).")
        staging = storage.folder_staging_dir(context.root(), project_key, folder_id)
        staging.mkdir(parents=True, exist_ok=True)
        self._tmp = staging / f"writer-{os.getpid()}-{id(self)}"
        self._f = open(self._tmp, "wb")
        self._closed = False
        ManagedFolderWriter.active_writers[self.full_name] = self

    def write(self, b: bytes) -> None:
        """Appends bytes to the file being uploaded."""
        if self._closed:
            raise ValueError(f"write to a closed folder writer ({self.full_name}:{self.path})")
        if not isinstance(b, (bytes, bytearray, memoryview)):
            raise TypeError(f"a folder writer takes bytes, not {type(b).__name__}")
        self._f.write(b)

    def close(self) -> None:
        """Finishes the upload: the file becomes visible in the folder."""
        if self._closed:
            return
        if ManagedFolderWriter.active_writers.get(self.full_name) is self:
            del ManagedFolderWriter.active_writers[self.full_name]
        self._f.close()
        self._closed = True
        target = storage.folder_files_dir(context.root(), self.project_key, self.folder_id) / self._rel
        if target.is_dir():
            os.unlink(self._tmp)
            raise Exception(f"Cannot write {self.path}: it is a directory in folder {self.full_name}")
        target.parent.mkdir(parents=True, exist_ok=True)
        os.replace(self._tmp, target)

    def __enter__(self) -> "ManagedFolderWriter":
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        self.close()


class Folder:
    """Handle on a managed folder (looked up by id or name)."""

    def __init__(self, lookup: str, project_key: str | None = None, ignore_flow: bool = False):
        self.lookup = lookup
        self.info = None
        self.partition_infos: dict = {}
        self.ignore_flow = ignore_flow
        self.read_partitions = None
        self.writePartition = None
        self.readable = False
        self.writable = False
        if flow.FLOW is not None and not ignore_flow:
            for item in flow.FLOW["in"]:
                if item.get("type") == "MANAGED_FOLDER" and lookup in (
                        item["smartName"], item["fullName"], item.get("boxLabel")):
                    self.readable = True
                    self.spec_item = item
                    self.name = item["fullName"]
                    if "partitions" in item:
                        self.read_partitions = list(item["partitions"])
            for item in flow.FLOW["out"]:
                if item.get("type") == "MANAGED_FOLDER" and lookup in (
                        item["smartName"], item["fullName"], item.get("boxLabel")):
                    self.writable = True
                    self.spec_item = item
                    self.name = item["fullName"]
                    if "partition" in item:
                        self.writePartition = item["partition"]
            if not self.readable and not self.writable:
                raise Exception(f"Managed folder {lookup} cannot be used : declare it as input or output of your recipe")
            self.project_key, self.short_name = self.name.split(".", 1)
        elif "." not in lookup:
            self.project_key = project_key or default_project_key()
            self.short_name = lookup
            self.name = f"{self.project_key}.{lookup}"
        else:
            self.project_key, self.short_name = lookup.split(".", 1)
            self.name = lookup

    def __repr__(self) -> str:
        return f"Folder({self.name!r})"

    # ------------------------------------------------------------------ identity

    @property
    def _id(self) -> str:
        return storage.resolve_folder(context.root(), self.project_key, self.short_name)

    def _config(self) -> dict:
        return storage.folder_config(context.root(), self.project_key, self._id)

    def _files(self):
        return storage.folder_files_dir(context.root(), self.project_key, self._id)

    def get_info(self, sensitive_info: bool = False) -> dict:
        """``{"id", "name", "type", "projectKey", "directoryBasedPartitioning", ...}``."""
        config = self._config()
        info = {"id": config["id"], "name": config["name"], "projectKey": config["projectKey"],
                "type": config["type"], "partitioning": config["partitioning"],
                "directoryBasedPartitioning": bool(config["partitioning"]["dimensions"])}
        if context.spec().get("allowDirectAccess"):
            info["path"] = str(self._files())
        return info

    def get_id(self) -> str:
        return self.get_info()["id"]

    def get_name(self) -> str:
        return self.get_info()["name"]

    def _check_direct_access(self) -> None:
        if not context.spec().get("allowDirectAccess"):
            raise Exception("Python process is running remotely, direct access to folder is not possible")

    def get_path(self) -> str:
        """Local path of the folder; raises as DSS does when running remotely (the default here)."""
        self._check_direct_access()
        return self.get_info()["path"]

    def file_path(self, filename: str) -> str:
        """Local path of a file; raises as DSS does when running remotely (the default here)."""
        self._check_direct_access()
        root = self.get_info()["path"]
        if not filename:
            return root
        return os.path.join(root, storage.clean_path(filename))

    # ------------------------------------------------------------------ partitions

    def _dimension(self) -> str | None:
        dims = self._config()["partitioning"]["dimensions"]
        return dims[0]["name"] if dims else None

    def is_partitioning_directory_based(self) -> bool:
        return self.get_info()["directoryBasedPartitioning"]

    def list_partitions(self) -> list[str]:
        """Partition ids present in the folder ([] when it is not partitioned)."""
        if self._dimension() is None:
            return []
        pattern = self._config()["partitioning"]["filePathPattern"]
        before, _, after = pattern.partition("%{" + self._dimension() + "}")
        base = self._files() / before.strip("/") if before.strip("/") else self._files()
        if not base.is_dir():
            return []
        candidates = sorted(p.name for p in base.iterdir() if p.is_dir())
        return [c for c in candidates if any(q.is_file() for q in (self._files() / self._partition_prefix(c)).rglob("*"))]

    def _partition_prefix(self, partition: str) -> str:
        if not partition:
            return ""
        if self._dimension() is None:
            raise Exception(f"Managed folder {self.name} is not partitioned, cannot use partition {partition!r}")
        return storage.partition_dir(self._config()["partitioning"], partition)

    def get_partition_info(self, partition: str) -> dict:
        """``{"paths": [...], "folder": "/<partition>"}`` for one partition ('' = whole folder)."""
        prefix = self._partition_prefix(partition)
        paths = ["/" + p for p in storage.list_folder_files(context.root(), self.project_key, self._id, prefix)]
        info = {"partition": partition, "paths": paths, "folder": "/" + prefix}
        self.partition_infos[partition] = {"info": info}
        return info

    def get_partition_folder(self, partition: str) -> str:
        return self.get_partition_info(partition)["folder"]

    def list_paths_in_partition(self, partition: str = "") -> list[str]:
        """Paths (starting with '/') of the files of a partition, or of the whole folder."""
        return self.get_partition_info(partition)["paths"]

    # ------------------------------------------------------------------ reading

    def get_path_details(self, path: str = "/") -> dict:
        """``{"exists", "directory", "fullPath", "name", "size", "lastModified", "children": [...]}``."""
        rel = storage.clean_path(path, allow_root=True)
        target = self._files() / rel if rel else self._files()

        def describe(p, rel_path: str) -> dict:
            st = p.stat()
            return {"fullPath": "/" + rel_path, "name": p.name if rel_path else "", "directory": p.is_dir(),
                    "size": 0 if p.is_dir() else st.st_size, "lastModified": int(st.st_mtime * 1000),
                    "mimeType": None}

        if not target.exists():
            return {"exists": False, "directory": False, "fullPath": "/" + rel, "name": target.name,
                    "children": []}
        details = describe(target, rel)
        details["exists"] = True
        details["children"] = []
        if target.is_dir():
            details["children"] = [describe(c, (rel + "/" if rel else "") + c.name) for c in sorted(target.iterdir())]
        return details

    def get_download_stream(self, path: str) -> DownloadStream:
        """A file-like, non-seekable stream on one file (use ``with``); raises if it does not exist."""
        rel = storage.clean_path(path)
        target = self._files() / rel
        if not target.is_file():
            raise Exception(f"Failed to read {path} from managed folder {self.name}: path does not exist or is a directory")
        return DownloadStream(str(target), f"{self.name}:/{rel}")

    def read_json(self, filename: str) -> Any:
        """Parses a JSON file of the folder."""
        with self.get_download_stream(filename) as f:
            return json.load(f)

    # ------------------------------------------------------------------ writing

    def upload_stream(self, path: str, f: BinaryIO) -> None:
        """Writes a file from a file-like object (replacing it); the file appears whole."""
        rel = storage.clean_path(path)

        def chunks():
            while True:
                data = f.read(_CHUNK)
                if not data:
                    return
                yield data.encode("utf-8") if isinstance(data, str) else bytes(data)

        try:
            storage.write_folder_file(context.root(), self.project_key, self._id, rel, chunks())
        except storage.StorageFailure as e:
            raise Exception(f"Failed to upload {path} to managed folder {self.name}: {e}") from e

    def upload_file(self, path: str, file_path: str) -> None:
        """Copies a local file into the folder."""
        with open(file_path, "rb") as f:
            self.upload_stream(path, f)

    def upload_data(self, path: str, data: bytes | str) -> None:
        """Writes bytes (or text, UTF-8 encoded) to a file of the folder."""
        if isinstance(data, str):
            data = data.encode("utf-8")
        self.upload_stream(path, io.BytesIO(data))

    def write_json(self, filename: str, obj: Any) -> None:
        """Writes an object as JSON."""
        self.upload_data(filename, json.dumps(obj).encode("utf-8"))

    def get_writer(self, path: str) -> ManagedFolderWriter:
        """An incremental writer (one per folder at a time); the file appears when it is closed."""
        return ManagedFolderWriter(self.project_key, self._id, path)

    def delete_path(self, path: str) -> None:
        """Removes a file or a directory tree (no error if it does not exist)."""
        rel = storage.clean_path(path, allow_root=True)
        target = self._files() / rel if rel else self._files()
        if not rel:
            self.clear()
        elif target.is_dir():
            shutil.rmtree(target)
        elif target.exists():
            target.unlink()

    def clear_path(self, path: str) -> None:
        """Deprecated alias of ``delete_path``."""
        self.delete_path(path)

    def clear(self) -> None:
        """Removes every file of the folder."""
        self.clear_partition("")

    def clear_partition(self, partition: str) -> None:
        """Removes the files of one partition ('' = the whole folder)."""
        prefix = self._partition_prefix(partition)
        target = self._files() / prefix if prefix else self._files()
        if not target.exists():
            return
        for child in list(target.iterdir()):
            shutil.rmtree(child) if child.is_dir() else child.unlink()
        if prefix:
            target.rmdir()


atexit.register(ManagedFolderWriter.atexit_handler)
