"""The path rules every store shares: relative, '/'-separated, never leaving the store."""

from __future__ import annotations

import os
import re
from pathlib import Path

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


def plain_name(name: object, what: str) -> str:
    """``name`` when it is one plain folder or file name (no separator, no '..', not absolute), else an error.

    Raises:
        IndexFormatError: ``what`` (e.g. "index.json: layout[0].name") is not a plain name.
    """
    from street2shop.errors import IndexFormatError

    if not isinstance(name, str) or not name or name in (".", "..") or any(c in name for c in "/\\\x00") or re.match(r"^[A-Za-z]:", name):
        raise IndexFormatError(f"{what} must be a plain folder name, got {str(name)[:80]!r}")
    return name


def resolve_inside(root: str | os.PathLike[str], *parts: str) -> Path:
    """``root/parts`` with every symlink followed, refused unless it stays inside ``root`` (itself resolved).

    Raises:
        IndexFormatError: the path leads outside ``root`` (by '..', an absolute part or a symlink).
    """
    from street2shop.errors import IndexFormatError

    base = Path(os.path.realpath(root))
    given = Path(root).joinpath(*parts)
    target = Path(os.path.realpath(base.joinpath(*parts)))
    if target != base and base not in target.parents:
        raise IndexFormatError(f"{given} leads outside its folder {root} (to {target}); refused")
    return target


def check_no_escape(root: str | os.PathLike[str]) -> None:
    """Refuse a folder holding a symlink (at any depth) that leads outside it.

    Raises:
        IndexFormatError: naming the first such link.
    """
    for directory, subdirs, files in os.walk(root):
        for name in subdirs + files:
            path = Path(directory) / name
            if path.is_symlink():
                resolve_inside(root, str(path.relative_to(root)))
