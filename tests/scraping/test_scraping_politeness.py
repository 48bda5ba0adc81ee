"""Tests of polite, safe fetching: throttle, robots.txt, retries with Retry-After, timeouts, limits, redirects."""

from __future__ import annotations

import logging
import time

import pytest
from marketplace_fixture import Marketplace

from street2shop.scraping.errors import FetchFailed, URLRefused
from street2shop.scraping.fetch import Fetcher
from street2shop.scraping.robots import RobotsPolicy
from street2shop.scraping.settings import CrawlSettings
from street2shop.scraping.throttle import HostThrottle
from street2shop.scraping.urls import redact_url


class FakeTime:
    """A clock that sleeping advances instantly; records every sleep."""

    def __init__(self):
        self.offset = 0.0
        self.sleeps: list[float] = []

    def clock(self) -> float:
        return time.monotonic() + self.offset

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.offset += seconds


@pytest.fixture(scope="module")
def market():
    with Marketplace(crawl_delay=0.5, slow_s=0.6) as site:
        yield site


def _fetcher(market, fake: FakeTime | None = None, **settings) -> Fetcher:
    values = {"delay_s": 0.2, "read_timeout_s": 0.25, "backoff_factor_s": 0.1, **settings}
    fake = fake or FakeTime()
    return Fetcher(["127.0.0.1"], CrawlSettings(**values), clock=fake.clock, sleep=fake.sleep)


def test_throttle_spaces_request_starts_per_host():
    fake = FakeTime()
    throttle = HostThrottle(1.0, clock=fake.clock, sleep=fake.sleep)
    starts = []
    for host in ["a", "a", "b", "a"]:
        throttle.wait(host)
        starts.append((host, fake.clock()))
    a_starts = [t for h, t in starts if h == "a"]
    assert all(later - earlier >= 1.0 - 1e-3 for earlier, later in zip(a_starts, a_starts[1:]))
    b_start = next(t for h, t in starts if h == "b")
    assert b_start - a_starts[1] < 0.5  # another host does not wait for host a
    throttle.defer("a", 5.0)
    before = fake.clock()
    throttle.wait("a")
    assert fake.clock() - before >= 5.0 - 1e-3
    throttle.set_min_interval("a", 0.5)
    assert throttle.interval_for("a") == 1.0  # never lowered
    throttle.set_min_interval("a", 3.0)
    assert throttle.interval_for("a") == 3.0 and throttle.interval_for("b") == 1.0


def test_robots_rules_crawl_delay_and_unreachable_robots():
    bodies = {"http://a.example/robots.txt": b"User-agent: *\nDisallow: /private/\nCrawl-delay: 2.5\n"
                                             b"User-agent: street2shop\nDisallow: /no-s2s/\nCrawl-delay: 4\n"}

    def fetch(url):
        if url in bodies:
            return bodies[url]
        if url.startswith("http://b."):
            raise FetchFailed(url, "HTTP 404: gone", status=404, gone=True)
        raise FetchFailed(url, "HTTP 503: refused", status=503, refusal=True)

    robots = RobotsPolicy(fetch, "street2shop/0.1 (+https://x)")
    assert robots.allowed("http://a.example/private/x") is True  # the street2shop group replaces '*'
    assert robots.allowed("http://a.example/no-s2s/x") is False
    assert robots.crawl_delay("http://a.example/") == 4.0
    assert robots.allowed("http://b.example/anything") and robots.crawl_delay("http://b.example/") is None
    with pytest.raises(URLRefused, match="unreachable") as info:
        robots.check("http://c.example/x")
    assert info.value.kind == "robots"
    other = RobotsPolicy(fetch, "otherbot/1.0")
    assert other.allowed("http://a.example/private/x") is False and other.crawl_delay("http://a.example/") == 2.5
    ignoring = RobotsPolicy(fetch, "otherbot/1.0", obey=False)
    assert ignoring.allowed("http://c.example/x") and ignoring.crawl_delay("http://a.example/") is None


def test_robots_disallowed_path_is_never_requested_and_crawl_delay_applies(market):
    fake = FakeTime()
    fetcher = _fetcher(market, fake)
    with pytest.raises(URLRefused, match="robots.txt"):
        fetcher.get_page(market.base_url + "/private/item/1")
    assert not any(p.startswith("/private/") for p in market.requested_paths())
    fetcher.get_page(market.base_url + "/catalog/costumes-and-blazers")
    fetcher.get_page(market.base_url + "/catalog/costumes-and-blazers?page=2")
    host = market.base_url.removeprefix("http://")
    assert fetcher.throttle.interval_for(host) == pytest.approx(0.5)  # Crawl-delay 0.5 > delay 0.2
    ua = {agent for path, _, agent, _ in market.log if path.startswith("/catalog/costumes")}
    assert ua == {CrawlSettings().user_agent}


def test_shared_rate_is_divided_between_parallel_crawls(market):
    fetcher = _fetcher(market, parallel_crawls=4)
    fetcher.get_page(market.base_url + "/catalog/robes?page=3")
    host = market.base_url.removeprefix("http://")
    assert fetcher.throttle.interval_for(host) == pytest.approx(4 * 0.5)  # Crawl-delay shared too


def test_429_waits_for_retry_after_then_succeeds():
    with Marketplace(retry_after_s=7) as site:
        fake = FakeTime()
        fetcher = _fetcher(site, fake, backoff_factor_s=0.01)
        page = fetcher.get_page(site.base_url + Marketplace.RATE_LIMITED_PAGE)
        assert page.status == 200
        assert site.hits[Marketplace.RATE_LIMITED_PAGE] == 2
        assert max(fake.sleeps) >= 7.0 - 0.1  # the Retry-After, not the 0.01 s backoff
        assert fetcher.stats.counts["http_429"] == 1 and fetcher.stats.counts["retries"] == 1


def test_retry_after_beyond_the_limit_fails_at_once():
    with Marketplace(retry_after_s=3600) as site:
        fetcher = _fetcher(site, max_retry_after_s=60)
        with pytest.raises(FetchFailed, match="retry after 3600 s") as info:
            fetcher.get_page(site.base_url + Marketplace.RATE_LIMITED_PAGE)
        assert info.value.refusal and info.value.retry_after == 3600
        assert site.hits[Marketplace.RATE_LIMITED_PAGE] == 1


def test_5xx_retried_with_exponential_backoff(market):
    fake = FakeTime()
    fetcher = _fetcher(market, fake, max_retries=3, backoff_factor_s=1.0)
    with pytest.raises(FetchFailed, match=r"HTTP 500 \(4 attempts\)") as info:
        fetcher.get_page(f"{market.base_url}/item/{Marketplace.ALWAYS_500}")
    assert info.value.refusal and info.value.status == 500
    backoffs = [s for s in fake.sleeps if s > 0.6]  # the 0.5 s interval waits aside
    assert backoffs == pytest.approx([1.0, 2.0, 4.0], abs=0.05)
    page = fetcher.get_page(f"{market.base_url}/item/{Marketplace.FLAKY_500}")
    assert page.status == 200


def test_timeout_is_retried(market):
    fetcher = _fetcher(market)
    page = fetcher.get_page(f"{market.base_url}/item/{Marketplace.SLOW}")
    assert page.status == 200 and fetcher.stats.counts["timeouts"] == 1


def test_offsite_redirect_refused_without_requesting_it(market):
    fetcher = _fetcher(market)
    with pytest.raises(URLRefused, match="redirect from .*/item/9001 to a host not in allowed_hosts") as info:
        fetcher.get_page(market.base_url + Marketplace.OFFSITE_REDIRECT)
    assert info.value.kind == "redirect"
    assert "/item/101-elsewhere" not in market.requested_paths()


@pytest.mark.parametrize(("url", "match"), [
    ("ftp://127.0.0.1/x", "only http and https"),
    ("file:///etc/passwd", "only http and https"),
    ("http://example.invalid/x", "not in allowed_hosts"),
    ("http://user:hunter2@127.0.0.1/x", "credentials"),
])
def test_unsafe_urls_refused(market, url, match):
    with pytest.raises(URLRefused, match=match) as info:
        _fetcher(market).get_page(url)
    assert "hunter2" not in str(info.value)


def test_size_limits_and_content_types(market):
    fetcher = _fetcher(market, max_page_bytes=300, max_image_bytes=500)
    with pytest.raises(FetchFailed, match="exceeds the limit of 300"):
        fetcher.get_page(market.base_url + "/catalog/robes")
    with pytest.raises(FetchFailed, match="exceeds the limit of 500"):
        fetcher.get_image(market.base_url + "/img/101-1.jpg")
    with pytest.raises(FetchFailed, match="page expected, got Content-Type image/jpeg"):
        _fetcher(market).get_page(market.base_url + "/img/101-1.jpg")
    with pytest.raises(FetchFailed, match="gone") as info:
        _fetcher(market).get_page(f"{market.base_url}/item/{Marketplace.GONE}")
    assert info.value.gone and not info.value.refusal


def test_credentials_never_logged(market, caplog):
    caplog.set_level(logging.DEBUG)
    fetcher = Fetcher(["127.0.0.1"], CrawlSettings(delay_s=0.01, backoff_factor_s=0.01),
                      headers={"Authorization": "Bearer tok-SECRET-1"})
    fetcher.get_page(f"{market.base_url}/item/{Marketplace.FLAKY_500}?token=tok-SECRET-2&page=1")
    with pytest.raises(URLRefused):
        fetcher.get_page("http://bob:tok-SECRET-3@127.0.0.1/x")
    assert "tok-SECRET" not in caplog.text
    assert redact_url("https://bob:pw@h.example:8443/p?api_key=k1&q=dress#x") == \
        "https://h.example:8443/p?api_key=REDACTED&q=dress"
