"""The exceptions the scraper raises: refused URLs, failed fetches, a site that keeps refusing, a bad spec."""

from __future__ import annotations

from street2shop.errors import InvalidParameter, Street2ShopError


class SiteSpecError(InvalidParameter):
    """The site spec is not valid JSON or a field of it has a bad value; the message names the field."""


class ScrapeError(Street2ShopError):
    """Base class of the errors raised while crawling."""


class URLRefused(ScrapeError):
    """A URL the crawler will not fetch: other scheme, host not allowed, disallowed by robots.txt, off-site redirect.

    Attributes:
        kind: ``"robots"``, ``"host"``, ``"redirect"`` or ``"url"`` (scheme, credentials, syntax).
    """

    def __init__(self, url: str, reason: str, *, kind: str = "url"):
        self.url = url
        self.reason = reason
        self.kind = kind
        super().__init__(f"{url}: {reason}")


class FetchFailed(ScrapeError):
    """A request that did not give a usable response, retries included.

    Attributes:
        url: the URL (credentials redacted).
        status: the last HTTP status, or None when no response came (timeout, connection error).
        refusal: True when the site refused or could not be reached (429, 5xx, 401/403, timeouts): these
            count towards stopping a crawl whose site keeps refusing.
        gone: True for 404/410: the page does not exist any more.
        retry_after: seconds the site asked to wait, when it asked for more than the crawler accepts.
    """

    def __init__(
        self,
        url: str,
        reason: str,
        *,
        status: int | None = None,
        refusal: bool = False,
        gone: bool = False,
        retry_after: float | None = None,
    ):
        self.url = url
        self.reason = reason
        self.status = status
        self.refusal = refusal
        self.gone = gone
        self.retry_after = retry_after
        super().__init__(f"{url}: {reason}")


class CrawlBlocked(ScrapeError):
    """The site keeps refusing requests; the crawl stops, keeping what it stored, and can be rerun later."""
