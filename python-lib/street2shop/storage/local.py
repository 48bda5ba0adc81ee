"""Pictures in a local directory."""

from __future__ import annotations

import os
from pathlib import Path

from street2shop.errors import StorageError
from street2shop.storage.paths import clean_relative


class LocalImageStore:
    """Images in a local directory; paths may not leave it (no '..', no absolute path, no symlink out)."""

    def __init__(self, root: str | Path):
        self.root = Path(root)
        if not self.root.is_dir():
            raise StorageError(f"image folder not found or not a directory: {self.root}")
        self._real_root = os.path.realpath(self.root)
        self.description = str(self.root)

    def _resolve(self, path: str) -> str:
        relative = clean_relative(path)
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
        cleaned = clean_relative(prefix, allow_empty=True)
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
