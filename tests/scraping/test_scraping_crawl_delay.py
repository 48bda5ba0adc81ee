"""Every request to a host keeps the interval from the previous one's start: robots.txt, retries, redirect hops, pictures.

The site's robots.txt asks ``Crawl-delay: 0.3`` (the spec's delay is lower), its second listing page
answers 429 with Retry-After, a product page answers 500 once, another is slower than the read
timeout, the start URL redirects, and pictures are fetched: the server records when each request
arrives, for a first run and for a resumed one.
"""

from __future__ import annotations

from marketplace_fixture import Marketplace

from street2shop.scraping.directory import scrape_to_directory
from street2shop.scraping.settings import CrawlSettings
from street2shop.scraping.site_spec import parse_site_spec

CRAWL_DELAY_S = 0.3
#: Arrivals are timed by the server, not by the crawler: a request's way through the loopback
#: interface and the server's threads may be a few milliseconds slower than the next one's.
CLOCK_TOLERANCE_S = 0.010


def _crawl(market: Marketplace, out) -> list[tuple[str, float]]:
    spec_data = market.site_spec()
    robes = next(c for c in spec_data["categories"] if c["name"] == "robes")
    robes["start_urls"] = [market.base_url + Marketplace.MOVED_PREFIX + "catalog/robes"]
    spec_data["categories"] = [robes]
    spec = parse_site_spec(spec_data)
    settings = CrawlSettings(delay_s=0.05, read_timeout_s=0.4, backoff_factor_s=0.1, max_retries=2, max_pages=2)
    scrape_to_directory(spec, settings, out)
    return list(market.arrivals)


def _closest(arrivals: list[tuple[str, float]]) -> tuple[float, str, str]:
    gaps = [(later[1] - earlier[1], earlier[0], later[0]) for earlier, later in zip(arrivals, arrivals[1:])]
    return min(gaps)


def test_no_two_requests_closer_than_the_crawl_delay_in_a_first_and_a_resumed_run(tmp_path):
    out = tmp_path / "out"
    with Marketplace(crawl_delay=CRAWL_DELAY_S, retry_after_s=1, slow_s=0.6) as market:
        first = _crawl(market, out)
        port = int(market.base_url.rsplit(":", 1)[1])
    paths = [path for path, _ in first]
    assert paths[0] == "/robots.txt" and paths[1].startswith(Marketplace.MOVED_PREFIX)
    assert paths.count(Marketplace.RATE_LIMITED_PAGE) == 2  # the 429 and its retry
    assert sum(p.startswith(f"/item/{Marketplace.FLAKY_500}-") for p in paths) == 2  # the 500 and its retry
    assert any(p.startswith(f"/item/{Marketplace.SLOW}") for p in paths) and any(p.startswith("/img/") for p in paths)
    gap, before, after = _closest(first)
    assert gap >= CRAWL_DELAY_S - CLOCK_TOLERANCE_S, f"{after} came {gap:.3f} s after {before}"

    with Marketplace(port=port, crawl_delay=CRAWL_DELAY_S, retry_after_s=1, slow_s=0.6) as market:  # faults re-armed
        resumed = _crawl(market, out)
    paths = [path for path, _ in resumed]
    assert paths[0] == "/robots.txt" and paths.count(Marketplace.RATE_LIMITED_PAGE) == 2
    assert len(paths) < len(first)  # what the first run stored is not fetched again
    gap, before, after = _closest(resumed)
    assert gap >= CRAWL_DELAY_S - CLOCK_TOLERANCE_S, f"{after} came {gap:.3f} s after {before}"
