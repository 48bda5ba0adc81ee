"""The exceptions street2shop raises; each message names what is wrong and where."""

from __future__ import annotations


class Street2ShopError(Exception):
    """Base class of every error street2shop raises on purpose."""


class InvalidParameter(Street2ShopError, ValueError):
    """A parameter (CLI flag, recipe param, request field) has a bad value."""


class ManifestError(Street2ShopError, ValueError):
    """A manifest is missing columns or holds unusable rows."""


class BadImage(Street2ShopError, ValueError):
    """Bytes that cannot be decoded into a usable picture; ``reason`` says why."""

    def __init__(self, reason: str, image: str | None = None):
        self.reason = reason
        self.image = image
        super().__init__(f"{image}: {reason}" if image else reason)


class StorageError(Street2ShopError, OSError):
    """An image or file could not be read from or written to its store."""


class IndexFormatError(Street2ShopError, ValueError):
    """An index or model folder is missing files or has an unknown format."""


class FingerprintMismatch(Street2ShopError, ValueError):
    """A model does not match the one an index was built with."""
