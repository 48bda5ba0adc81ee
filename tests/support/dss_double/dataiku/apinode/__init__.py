"""API-node helpers (``dataiku.apinode``): custom HTTP errors and responses of Python-function endpoints.

On the API node, ``DkuCustomApiException`` is documented as usable from endpoint code without an import (the
function server provides it); its module path is not documented, so the double exposes it here.
"""

from __future__ import annotations

import json
from typing import Any


class DkuCustomApiException(Exception):
    """Makes the endpoint answer ``http_status_code`` with ``message``."""

    def __init__(self, message: str, http_status_code: int = 500):
        super().__init__(message)
        self.message = message
        self.http_status_code = http_status_code


class DkuCustomHttpResponse:
    """A full HTTP response returned by a Python-function endpoint ("Returns custom response")."""

    def __init__(self, status_code: int, body: Any, headers: dict | None = None):
        self.status_code = status_code
        self.body = body
        self.headers = dict(headers or {})
        self.extra_headers: list[tuple[str, str]] = []

    def add_header(self, key: str, value: str) -> None:
        """Adds a header that may repeat (e.g. Set-Cookie)."""
        self.extra_headers.append((key, value))

    @classmethod
    def create_text_response(cls, text: str, content_type: str = "text/plain", status_code: int = 200):
        return cls(status_code, text, {"Content-Type": content_type})

    @classmethod
    def create_json_response(cls, obj: Any, content_type: str = "application/json", status_code: int = 200):
        return cls(status_code, json.dumps(obj), {"Content-Type": content_type})

    @classmethod
    def create_binary_response(cls, data: bytes, content_type: str = "application/octet-stream",
                               status_code: int = 200):
        return cls(status_code, bytes(data), {"Content-Type": content_type})


__all__ = ["DkuCustomApiException", "DkuCustomHttpResponse"]
