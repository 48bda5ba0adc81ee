"""URL helpers: the host allow-list check, the throttling key, and redaction for logs."""

from __future__ import annotations

import re
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

_DEFAULT_PORTS = {"http": 80, "https": 443}
_SECRETS = r"token|key|secret|pass|auth|sig|session|sid|credential|code"
_SECRET_QUERY_KEY = re.compile(f"({_SECRETS})", re.IGNORECASE)
_SECRET_IN_TEXT = re.compile(rf"([?&][^=&\s\"'?#]*(?:{_SECRETS})[^=&\s\"'?#]*=)[^&\s\"'#)]*", re.IGNORECASE)
_USERINFO_IN_TEXT = re.compile(r"(//)[^/\s@\"']+@")


def url_allowed(url: str, allowed_hosts: tuple[str, ...] | list[str]) -> bool:
    """Whether ``url`` is an http(s) URL whose host matches one of ``allowed_hosts``.

    An entry ``example.com`` matches that host on any port, ``*.example.com`` also its subdomains,
    ``example.com:8080`` only that port.
    """
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return False
    if parts.scheme not in _DEFAULT_PORTS or not parts.hostname:
        return False
    host = parts.hostname.rstrip(".")
    port = port or _DEFAULT_PORTS[parts.scheme]
    for entry in allowed_hosts:
        pattern, _, entry_port = entry.partition(":")
        if entry_port and int(entry_port) != port:
            continue
        if pattern.startswith("*."):
            base = pattern[2:]
            if host == base or host.endswith("." + base):
                return True
        elif host == pattern:
            return True
    return False


def redact_url(url: str) -> str:
    """``url`` fit for logs and outputs: no user:password, and secret-looking query values masked."""
    try:
        parts = urlsplit(url)
        netloc = parts.hostname or ""
        if parts.port:
            netloc += f":{parts.port}"
    except ValueError:
        return "<unparsable URL>"
    query = parts.query
    if query:
        pairs = parse_qsl(query, keep_blank_values=True)
        query = urlencode([(k, "REDACTED" if _SECRET_QUERY_KEY.search(k) else v) for k, v in pairs], safe="/:,")
    return urlunsplit((parts.scheme, netloc, parts.path, query, ""))


def host_of(url: str) -> str:
    """The ``host[:port]`` requests to ``url`` are throttled under."""
    parts = urlsplit(url)
    return (parts.hostname or "") + (f":{parts.port}" if parts.port else "")


def redact_text(text: str) -> str:
    """``text`` with the credentials of any URL in it masked (user:password, secret-looking query values)."""
    return _SECRET_IN_TEXT.sub(r"\1REDACTED", _USERINFO_IN_TEXT.sub(r"\1", text))
