"""How to fetch politely: every knob of a crawl with a polite default, in one frozen dataclass."""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass, fields, replace
from typing import Any

from street2shop import __version__
from street2shop.errors import InvalidParameter

logger = logging.getLogger(__name__)

#: Identifies the crawler to site operators; override it with a contact address (``--user-agent``).
DEFAULT_USER_AGENT = f"street2shop/{__version__} (+https://example.invalid/street2shop; fashion photo research crawler)"


@dataclass(frozen=True)
class CrawlSettings:
    """How a crawl fetches, and when it stops. The defaults are polite; lowering them is explicit.

    Attributes:
        delay_s: minimum seconds between two requests to one host (robots.txt ``Crawl-delay`` wins when larger).
        parallel_crawls: how many crawls of the same site run at once (e.g. one DSS partition per category);
            each one waits ``parallel_crawls`` times longer, so together they keep to ``delay_s``.
        user_agent: sent with every request and matched against robots.txt groups.
        obey_robots: honour robots.txt rules and ``Crawl-delay``. Turning it off logs a warning.
        connect_timeout_s / read_timeout_s: per socket operation; total_timeout_s: whole response.
        max_retries: retries of one request on 429, 5xx, timeouts and connection errors.
        backoff_factor_s: exponential backoff base: ``factor * 2 ** (n - 1)`` seconds after the n-th failure.
        backoff_max_s: longest backoff.
        max_retry_after_s: longest ``Retry-After`` honoured; a site asking for more stops the crawl.
        max_redirects: redirect hops followed (each checked against the allowed hosts and robots.txt).
        max_page_bytes / max_image_bytes: response size limits (decoded bytes).
        max_image_pixels: larger pictures are refused before decoding.
        max_consecutive_failures: refused or unreachable requests in a row before the crawl stops.
        max_pages: listing pages per category and run (None: no limit).
        max_products: products stored per run (None: no limit).
        max_duration_s: wall-clock seconds per run (None: no limit).
        checkpoint_s: how often the product table is rewritten during a run (it always is at the end).
    """

    delay_s: float = 1.0
    parallel_crawls: int = 1
    user_agent: str = DEFAULT_USER_AGENT
    obey_robots: bool = True
    connect_timeout_s: float = 10.0
    read_timeout_s: float = 30.0
    total_timeout_s: float = 120.0
    max_retries: int = 4
    backoff_factor_s: float = 2.0
    backoff_max_s: float = 120.0
    max_retry_after_s: float = 600.0
    max_redirects: int = 5
    max_page_bytes: int = 5_000_000
    max_image_bytes: int = 20_000_000
    max_image_pixels: int = 50_000_000
    max_consecutive_failures: int = 8
    max_pages: int | None = None
    max_products: int | None = None
    max_duration_s: float | None = None
    checkpoint_s: float = 300.0

    @property
    def request_interval_s(self) -> float:
        """Seconds between two requests to one host from this crawl, before robots.txt ``Crawl-delay``."""
        return self.delay_s * self.parallel_crawls

    def validated(self) -> CrawlSettings:
        """Check every value; return self.

        Raises:
            InvalidParameter: naming the first bad setting.
        """
        positive = ("connect_timeout_s", "read_timeout_s", "total_timeout_s", "max_page_bytes", "max_image_bytes",
                    "max_image_pixels", "max_consecutive_failures", "parallel_crawls", "checkpoint_s")
        non_negative = ("delay_s", "max_retries", "backoff_factor_s", "backoff_max_s", "max_retry_after_s", "max_redirects")
        optional_non_negative = ("max_pages", "max_products", "max_duration_s")
        for name in positive:
            _check_number(name, getattr(self, name), minimum=0, strict=True)
        for name in non_negative:
            _check_number(name, getattr(self, name), minimum=0, strict=False)
        for name in optional_non_negative:
            if getattr(self, name) is not None:
                _check_number(name, getattr(self, name), minimum=0, strict=False)
        for name in ("parallel_crawls", "max_retries", "max_redirects", "max_consecutive_failures",
                     "max_page_bytes", "max_image_bytes", "max_image_pixels", "max_pages", "max_products"):
            value = getattr(self, name)
            if value is not None and int(value) != value:
                raise InvalidParameter(f"{name} must be a whole number, got {value!r}")
        if not isinstance(self.user_agent, str) or not self.user_agent.strip():
            raise InvalidParameter("user_agent must be a non-empty string identifying the crawler")
        if any(ch in self.user_agent for ch in "\r\n"):
            raise InvalidParameter("user_agent must be one line")
        if not isinstance(self.obey_robots, bool):
            raise InvalidParameter(f"obey_robots must be true or false, got {self.obey_robots!r}")
        if self.delay_s < 1.0:
            logger.warning("delay_s=%s is below the polite default of 1 s between requests to a host", self.delay_s)
        if not self.obey_robots:
            logger.warning("robots.txt is NOT obeyed (obey_robots=false): make sure the site's operator agrees")
        return self

    def with_overrides(self, **overrides: Any) -> CrawlSettings:
        """A copy with the given settings changed; ``None`` values are ignored. Unknown names raise."""
        known = {f.name for f in fields(self)}
        unknown = sorted(set(overrides) - known)
        if unknown:
            raise InvalidParameter(f"unknown crawl setting(s) {unknown}; known: {sorted(known)}")
        return replace(self, **{k: v for k, v in overrides.items() if v is not None})


def _check_number(name: str, value: Any, *, minimum: float, strict: bool) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise InvalidParameter(f"{name} must be a number, got {value!r}")
    if value < minimum or (strict and value == minimum):
        raise InvalidParameter(f"{name} must be {'>' if strict else '>='} {minimum}, got {value!r}")


def setting_names() -> list[str]:
    """Names of every crawl setting (the keys a site spec's ``politeness`` block may hold)."""
    return [f.name for f in fields(CrawlSettings)]
