"""How to fetch politely and safely: throttled GETs with retries, timeouts, size limits and checked redirects."""

from __future__ import annotations

import logging
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from urllib.parse import urljoin, urlsplit

import requests
from requests.adapters import HTTPAdapter
from urllib3.exceptions import InvalidHeader, MaxRetryError
from urllib3.util.retry import Retry

from street2shop.scraping.errors import FetchFailed, URLRefused
from street2shop.scraping.robots import RobotsPolicy
from street2shop.scraping.settings import CrawlSettings
from street2shop.scraping.throttle import HostThrottle
from street2shop.scraping.urls import host_of, redact_text, redact_url, url_allowed

logger = logging.getLogger(__name__)

#: Statuses retried with backoff (``Retry-After`` honoured on 429 and 503).
RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
_REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
_HTML_TYPES = ("text/html", "application/xhtml+xml")
_CHUNK = 64 * 1024


@dataclass(frozen=True)
class Fetched:
    """A successful (2xx) response, read in full within the size limit."""

    url: str
    status: int
    content_type: str
    charset: str | None
    body: bytes


@dataclass
class FetchStats:
    """What the fetcher did: counters plus the first and last request start per host."""

    counts: Counter = field(default_factory=Counter)
    first_start: dict[str, float] = field(default_factory=dict)
    last_start: dict[str, float] = field(default_factory=dict)
    requests_per_host: Counter = field(default_factory=Counter)

    def achieved_rate(self, host: str) -> float | None:
        """Requests per second to ``host`` between its first and last request start."""
        n = self.requests_per_host.get(host, 0)
        if n < 2:
            return None
        span = self.last_start[host] - self.first_start[host]
        return (n - 1) / span if span > 0 else None


class Fetcher:
    """GETs URLs of the allowed hosts politely: robots.txt, per-host interval, retries, limits.

    * only http/https URLs on ``allowed_hosts``, without credentials in the URL; redirects are
      followed by hand so that every hop is checked the same way (an off-site hop is refused);
    * robots.txt is asked before every hop, and its ``Crawl-delay`` lengthens the host's interval;
    * each request waits for the host's turn (:class:`HostThrottle`), one connection per host;
    * 429/5xx, timeouts and connection errors are retried by a ``urllib3.Retry`` policy with
      exponential backoff and ``Retry-After``; the waits go through the throttle so every request to
      that host waits, not only the retried one, and a ``Retry-After`` beyond
      ``max_retry_after_s`` fails at once instead of stalling the crawl;
    * connect/read timeouts on every request, a total time per response, size limits on bodies.

    Args:
        allowed_hosts: host patterns (see :func:`url_allowed`).
        settings: politeness and limits.
        headers: extra request headers (e.g. a cookie); their values are never logged.
        session: a ``requests.Session`` to use (a new one by default).
    """

    def __init__(self, allowed_hosts: tuple[str, ...] | list[str], settings: CrawlSettings, *,
                 headers: dict[str, str] | None = None, session: requests.Session | None = None,
                 clock: Callable[[], float] = time.monotonic, sleep: Callable[[float], None] = time.sleep):
        self.allowed_hosts = tuple(allowed_hosts)
        self.settings = settings
        self.stats = FetchStats()
        self.throttle = HostThrottle(settings.request_interval_s, clock=clock, sleep=sleep)
        self.robots = RobotsPolicy(self._fetch_robots, settings.user_agent, obey=settings.obey_robots, clock=clock)
        self._clock = clock
        _redact_urllib3_logs()
        self._session = session or requests.Session()
        # One connection per host, and no retries below us: retries are ours, through the throttle.
        adapter = HTTPAdapter(pool_connections=16, pool_maxsize=1, pool_block=True, max_retries=0)
        self._session.mount("http://", adapter)
        self._session.mount("https://", adapter)
        self._session.headers.update({"User-Agent": settings.user_agent, "Accept-Encoding": "gzip, deflate"})
        self._session.headers.update(headers or {})
        self._retry = Retry(total=settings.max_retries, backoff_factor=settings.backoff_factor_s,
                            backoff_max=settings.backoff_max_s, status_forcelist=sorted(RETRY_STATUSES),
                            allowed_methods=["GET"], respect_retry_after_header=True, redirect=False,
                            raise_on_status=False, raise_on_redirect=False)

    def close(self) -> None:
        """Close the HTTP connections."""
        self._session.close()

    def get_page(self, url: str) -> Fetched:
        """GET an HTML page (``max_page_bytes``).

        Raises:
            URLRefused: not fetched on purpose (scheme, host, robots.txt, off-site redirect).
            FetchFailed: no usable response after retries, an error status, too large, not HTML.
        """
        return self._get(url, max_bytes=self.settings.max_page_bytes, accept=_HTML_TYPES, what="page")

    def get_image(self, url: str) -> Fetched:
        """GET a picture (``max_image_bytes``); same errors as :meth:`get_page`."""
        return self._get(url, max_bytes=self.settings.max_image_bytes, accept=("image/", "application/octet-stream"),
                         what="image")

    def _fetch_robots(self, url: str) -> bytes:
        return self._get(url, max_bytes=4 * 1024 * 1024, accept=None, what="robots.txt", obey_robots=False).body

    def _get(self, url: str, *, max_bytes: int, accept: tuple[str, ...] | None, what: str,
             obey_robots: bool = True) -> Fetched:
        current = url
        for hop in range(self.settings.max_redirects + 1):
            self._check_url(current, first=url if hop else None)
            host = host_of(current)
            if obey_robots:
                try:
                    self.robots.check(current)
                except URLRefused:
                    self.stats.counts["robots_disallowed"] += 1
                    raise
                delay = self.robots.crawl_delay(current)
                if delay is not None:
                    self.throttle.set_min_interval(host, delay * self.settings.parallel_crawls)
            status, headers, body = self._exchange(current, host, max_bytes=max_bytes)
            if status in _REDIRECT_STATUSES and headers.get("Location"):
                self.stats.counts["redirects"] += 1
                current = urljoin(current, headers["Location"].strip())
                continue
            if 200 <= status < 300:
                content_type, charset = _content_type(headers.get("Content-Type", ""))
                if accept is not None and content_type and not content_type.startswith(accept):
                    raise FetchFailed(redact_url(current), f"{what} expected, got Content-Type {content_type}", status=status)
                return Fetched(url=current, status=status, content_type=content_type, charset=charset, body=body)
            raise _status_error(current, status)
        raise FetchFailed(redact_url(url), f"more than {self.settings.max_redirects} redirects")

    def _check_url(self, url: str, *, first: str | None) -> None:
        try:
            parts = urlsplit(url)
            parts.port  # noqa: B018 - raises ValueError on a bad port
        except ValueError:
            raise URLRefused(redact_url(url), "not a valid URL") from None
        if parts.scheme not in ("http", "https"):
            raise URLRefused(redact_url(url), f"only http and https are fetched, not {parts.scheme or 'a relative URL'}")
        if parts.username is not None or parts.password is not None:
            raise URLRefused(redact_url(url), "URLs with credentials are not fetched (put them in the spec's headers)")
        if not url_allowed(url, self.allowed_hosts):
            self.stats.counts["refused_hosts"] += 1
            if first is not None:
                raise URLRefused(redact_url(url), f"redirect from {redact_url(first)} to a host not in allowed_hosts refused",
                                 kind="redirect")
            raise URLRefused(redact_url(url), f"host {parts.hostname} is not in allowed_hosts", kind="host")

    def _exchange(self, url: str, host: str, *, max_bytes: int) -> tuple[int, requests.structures.CaseInsensitiveDict, bytes]:
        """One request with its retries; returns the final status, headers and (for 2xx) body."""
        retry = self._retry
        attempt = 0
        while True:
            attempt += 1
            self.throttle.wait(host)
            self._count_start(host)
            try:
                status, headers, body, raw = self._attempt(url, max_bytes=max_bytes)
            except (requests.exceptions.Timeout, requests.exceptions.ConnectionError,
                    requests.exceptions.ChunkedEncodingError, _TotalTimeout) as err:
                reason = "timed out" if isinstance(err, (requests.exceptions.Timeout, _TotalTimeout)) else "connection failed"
                if "Read timed out" in str(err):
                    reason = "timed out"
                self.stats.counts["timeouts" if reason == "timed out" else "connection_errors"] += 1
                try:
                    retry = retry.increment("GET", url, error=err)
                except MaxRetryError:
                    raise FetchFailed(redact_url(url), f"{reason} ({attempt} attempts)", refusal=True) from None
                self._back_off(host, url, retry, None, reason)
                continue
            except requests.exceptions.RequestException as err:
                raise FetchFailed(redact_url(url), f"request failed: {type(err).__name__}") from None
            self.stats.counts[f"http_{status}"] += 1
            if not retry.is_retry("GET", status, has_retry_after="Retry-After" in headers):
                return status, headers, body
            retry_after = _retry_after(retry, raw)
            if retry_after is not None and retry_after > self.settings.max_retry_after_s:
                raise FetchFailed(redact_url(url), f"HTTP {status} asking to retry after {retry_after:.0f} s, more than "
                                  f"max_retry_after_s={self.settings.max_retry_after_s:.0f}", status=status,
                                  refusal=True, retry_after=retry_after)
            try:
                retry = retry.increment("GET", url, response=raw)
            except MaxRetryError:
                raise FetchFailed(redact_url(url), f"HTTP {status} ({attempt} attempts)", status=status, refusal=True) from None
            self._back_off(host, url, retry, retry_after, f"HTTP {status}")

    def _attempt(self, url: str, *, max_bytes: int):
        timeout = (self.settings.connect_timeout_s, self.settings.read_timeout_s)
        deadline = self._clock() + self.settings.total_timeout_s
        with self._session.get(url, timeout=timeout, stream=True, allow_redirects=False) as response:
            status = response.status_code
            if not 200 <= status < 300:
                _drain(response)
                return status, response.headers, b"", response.raw
            declared = response.headers.get("Content-Length", "")
            if declared.isdigit() and int(declared) > max_bytes:
                raise FetchFailed(redact_url(url), f"response of {int(declared)} bytes exceeds the limit of {max_bytes}",
                                  status=status)
            chunks, size = [], 0
            for chunk in response.iter_content(_CHUNK):
                size += len(chunk)
                if size > max_bytes:
                    raise FetchFailed(redact_url(url), f"response exceeds the limit of {max_bytes} bytes", status=status)
                if self._clock() > deadline:
                    raise _TotalTimeout(f"response took longer than total_timeout_s={self.settings.total_timeout_s}")
                chunks.append(chunk)
            self.stats.counts["bytes"] += size
            return status, response.headers, b"".join(chunks), response.raw

    def _back_off(self, host: str, url: str, retry: Retry, retry_after: float | None, reason: str) -> None:
        # urllib3 waits 0 s before the first retry; a polite crawler never retries at once.
        wait = max(retry.get_backoff_time(), self.settings.backoff_factor_s * 2 ** (len(retry.history) - 1))
        wait = min(wait, self.settings.backoff_max_s)
        if retry_after is not None:
            wait = retry_after
        self.stats.counts["retries"] += 1
        logger.info("%s on %s: retrying in %.1f s%s", reason, redact_url(url), wait,
                    " (Retry-After)" if retry_after is not None else "")
        self.throttle.defer(host, wait)

    def _count_start(self, host: str) -> None:
        now = self._clock()
        self.stats.counts["requests"] += 1
        self.stats.requests_per_host[host] += 1
        self.stats.first_start.setdefault(host, now)
        self.stats.last_start[host] = now


class _TotalTimeout(Exception):
    """The response body took longer than ``total_timeout_s``."""


class _RedactingFilter(logging.Filter):
    """Masks URL credentials in urllib3's debug lines (they show each request's path and query)."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        redacted = redact_text(message)
        if redacted != message:
            record.msg, record.args = redacted, ()
        return True


_REDACTING_FILTER = _RedactingFilter()


def _redact_urllib3_logs() -> None:
    for name in ("urllib3.connectionpool", "urllib3.util.retry", "urllib3.connection"):
        target = logging.getLogger(name)
        if _REDACTING_FILTER not in target.filters:
            target.addFilter(_REDACTING_FILTER)


def _drain(response: requests.Response) -> None:
    """Read a short error or redirect body, so that its connection is kept for the next request.

    Closing it unread would make the retry or the next hop open a new connection, whose set-up
    delays the request's arrival at the site after its throttle slot, so that it arrives closer
    to the request after it than the interval.
    """
    declared = response.headers.get("Content-Length", "")
    if declared.isdigit() and int(declared) <= _CHUNK:
        try:
            for _ in response.iter_content(_CHUNK):
                pass
        except requests.exceptions.RequestException:
            pass  # the connection is closed instead


def _retry_after(retry: Retry, raw) -> float | None:
    try:
        return retry.get_retry_after(raw)
    except InvalidHeader:  # an unparsable Retry-After is ignored: the backoff applies
        return None


def _content_type(header: str) -> tuple[str, str | None]:
    media, _, params = header.partition(";")
    charset = None
    for param in params.split(";"):
        key, _, value = param.partition("=")
        if key.strip().lower() == "charset" and value.strip():
            charset = value.strip().strip('"')
    return media.strip().lower(), charset


def _status_error(url: str, status: int) -> FetchFailed:
    if status in (404, 410):
        return FetchFailed(redact_url(url), f"HTTP {status}: gone", status=status, gone=True)
    if status in (401, 403) or status in RETRY_STATUSES:
        return FetchFailed(redact_url(url), f"HTTP {status}: refused", status=status, refusal=True)
    return FetchFailed(redact_url(url), f"HTTP {status}", status=status)
