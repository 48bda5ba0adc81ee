"""robots.txt: fetched once per origin (refreshed daily), parsed by protego, asked before every request."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import urlsplit

from protego import Protego

from street2shop.scraping.errors import FetchFailed, URLRefused
from street2shop.scraping.urls import redact_url

logger = logging.getLogger(__name__)

#: RFC 9309 asks crawlers to parse at least 500 KiB of robots.txt.
MAX_ROBOTS_BYTES = 512 * 1024
#: RFC 9309: a cached robots.txt should not be used for more than 24 hours.
ROBOTS_TTL_S = 24 * 3600.0

#: ``fetch(url) -> body`` of a 2xx answer; raises FetchFailed (with the status) or URLRefused otherwise.
RobotsFetch = Callable[[str], bytes]


@dataclass
class _Rules:
    parser: Protego | None
    disallow_all_reason: str | None
    fetched_at: float


class RobotsPolicy:
    """Answers "may I fetch this URL?" and "how long must I wait between requests?" per robots.txt.

    Following RFC 9309: a 2xx robots.txt is obeyed; a 4xx one (none) allows everything; a 5xx one,
    or no answer at all, disallows the whole origin until it can be read.

    Args:
        fetch: how to download a robots.txt (the crawler's throttled fetcher).
        user_agent: the crawler's User-Agent; its product token (the part before '/') selects the group.
        obey: False skips robots.txt entirely (never fetched, everything allowed, no Crawl-delay).
    """

    def __init__(self, fetch: RobotsFetch, user_agent: str, *, obey: bool = True, clock: Callable[[], float] = time.monotonic):
        self._fetch = fetch
        self._agent = user_agent.split("/", 1)[0].split()[0] if user_agent.strip() else user_agent
        self._obey = obey
        self._clock = clock
        self._rules: dict[str, _Rules] = {}

    def check(self, url: str) -> None:
        """Raise URLRefused if robots.txt disallows ``url``."""
        if not self._obey:
            return
        rules = self._rules_for(url)
        if rules.disallow_all_reason:
            raise URLRefused(redact_url(url), rules.disallow_all_reason, kind="robots")
        if rules.parser is not None and not rules.parser.can_fetch(url, self._agent):
            raise URLRefused(redact_url(url), "disallowed by robots.txt", kind="robots")

    def allowed(self, url: str) -> bool:
        """Whether robots.txt lets the crawler fetch ``url``."""
        try:
            self.check(url)
        except URLRefused:
            return False
        return True

    def crawl_delay(self, url: str) -> float | None:
        """Seconds robots.txt asks between requests (``Crawl-delay`` or ``Request-rate``), or None."""
        if not self._obey:
            return None
        rules = self._rules_for(url)
        if rules.parser is None:
            return None
        delays = []
        delay = rules.parser.crawl_delay(self._agent)
        if delay is not None:
            delays.append(float(delay))
        rate = rules.parser.request_rate(self._agent)
        if rate is not None and rate.requests:
            delays.append(rate.seconds / rate.requests)
        return max(delays) if delays else None

    def _rules_for(self, url: str) -> _Rules:
        parts = urlsplit(url)
        origin = f"{parts.scheme}://{parts.netloc}"
        rules = self._rules.get(origin)
        if rules is None or self._clock() - rules.fetched_at > ROBOTS_TTL_S:
            rules = self._download(origin)
            self._rules[origin] = rules
        return rules

    def _download(self, origin: str) -> _Rules:
        url = origin + "/robots.txt"
        now = self._clock()
        try:
            body = self._fetch(url)
        except FetchFailed as err:
            if err.status is not None and 400 <= err.status < 500 and err.status != 429:
                logger.info("no robots.txt at %s (HTTP %s): everything allowed", origin, err.status)
                return _Rules(None, None, now)
            reason = f"robots.txt unreachable ({err.reason}): the site is treated as disallowed until it can be read (RFC 9309)"
            logger.error("%s: %s", origin, reason)
            return _Rules(None, reason, now)
        except URLRefused as err:
            reason = f"robots.txt not fetched ({err.reason}): the site is treated as disallowed"
            logger.error("%s: %s", origin, reason)
            return _Rules(None, reason, now)
        text = body[:MAX_ROBOTS_BYTES].decode("utf-8", errors="replace")
        logger.info("robots.txt of %s read (%d bytes)", origin, len(body))
        return _Rules(Protego.parse(text), None, now)
