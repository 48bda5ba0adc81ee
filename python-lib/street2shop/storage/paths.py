"""The path rules every store shares: relative, '/'-separated, never leaving the store."""

from __future__ import annotations

import re

from street2shop.errors import StorageError

#: Words in a duck-typed store's error that mean the file does not exist.
MISSING_HINTS = ("does not exist", "not found", "no such", "404", "nosuchkey")


def clean_relative(path: str, *, allow_leading_slash: bool = False, allow_empty: bool = False) -> str:
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


def looks_missing(err: BaseException) -> bool:
    """Whether an exception from a duck-typed store says the file does not exist."""
    if isinstance(err, (FileNotFoundError, KeyError)):
        return True
    text = str(err).lower()
    return any(hint in text for hint in MISSING_HINTS)
