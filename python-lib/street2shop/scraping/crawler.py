"""The category crawl: listing page, product links, unvisited product pages, fields and pictures, next page."""

from __future__ import annotations

import hashlib
import logging
import time
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

from street2shop.errors import BadImage
from street2shop.images.decode import decode_image
from street2shop.progress import Progress, bars_wanted
from street2shop.scraping.errors import CrawlBlocked, FetchFailed, URLRefused
from street2shop.scraping.extract import (
    ProductPage,
    extract_links,
    extract_next_page,
    extract_product,
    link_product_id,
    parse_html,
    url_product_id,
)
from street2shop.scraping.fetch import Fetcher
from street2shop.scraping.settings import CrawlSettings
from street2shop.scraping.site_spec import CategorySpec, SiteSpec
from street2shop.scraping.state import STATUS_GONE, STATUS_NO_IMAGE, STATUS_STORED, CrawlState
from street2shop.scraping.urls import redact_url
from street2shop.scraping.vocabulary import VocabularyMapper

logger = logging.getLogger(__name__)

#: Why a run ended.
STOP_COMPLETED = "completed"
STOP_MAX_PRODUCTS = "max_products"
STOP_MAX_DURATION = "max_duration"
STOP_SITE_REFUSING = "site_refusing"

_MAGIC = ((b"\xff\xd8\xff", ".jpg"), (b"\x89PNG\r\n\x1a\n", ".png"), (b"GIF8", ".gif"), (b"BM", ".bmp"),
          (b"II*\x00", ".tif"), (b"MM\x00*", ".tif"))


@dataclass
class CrawlReport:
    """What a run did: counters per category, unmapped site words, why it stopped, request rates."""

    site: str
    started_at: str
    finished_at: str = ""
    duration_s: float = 0.0
    stop_reason: str = STOP_COMPLETED
    message: str = ""
    categories: dict[str, Counter] = field(default_factory=dict)
    unmapped: dict[str, dict[str, int]] = field(default_factory=dict)
    requests: dict[str, Any] = field(default_factory=dict)
    parse_pages: int = 0
    parse_cpu_s: float = 0.0

    @property
    def totals(self) -> Counter:
        total: Counter = Counter()
        for counts in self.categories.values():
            total.update(counts)
        return total

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict (``report.json``)."""
        return {
            "site": self.site, "started_at": self.started_at, "finished_at": self.finished_at,
            "duration_s": round(self.duration_s, 3), "stop_reason": self.stop_reason, "message": self.message,
            "totals": dict(sorted(self.totals.items())),
            "categories": {name: dict(sorted(c.items())) for name, c in self.categories.items()},
            "unmapped": self.unmapped, "requests": self.requests,
            "parsing": {"pages": self.parse_pages, "cpu_s": round(self.parse_cpu_s, 4),
                        "pages_per_cpu_s": round(self.parse_pages / self.parse_cpu_s, 1) if self.parse_cpu_s else None},
        }


class _Stop(Exception):
    """A budget ran out; ``reason`` is one of the STOP_* values."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


class Crawler:
    """Crawls the categories of a site into a :class:`CrawlState`.

    Per category and start URL: fetch the listing page, read its product links, visit the
    products not visited before (fields, vocabulary mapping, pictures saved under the SHA-1 of
    their URL), commit each product as soon as it is stored, then follow the next-page link.
    Budgets (pages, products, duration) end the run cleanly; a site that keeps refusing ends it
    with ``stop_reason == "site_refusing"`` and a message saying so.

    Args:
        spec: the site.
        settings: politeness, limits and budgets.
        state: visited ids, rows and pictures (local files or a DSS folder).
        fetcher: built from ``spec`` and ``settings`` when not given.
        on_checkpoint: called every ``settings.checkpoint_s`` seconds (rewrite the output tables).
    """

    def __init__(self, spec: SiteSpec, settings: CrawlSettings, state: CrawlState, *, fetcher: Fetcher | None = None,
                 on_checkpoint: Callable[[], None] | None = None, clock: Callable[[], float] = time.monotonic):
        self.spec = spec
        self.settings = settings.validated()
        self.state = state
        self.fetcher = fetcher or Fetcher(spec.allowed_hosts, self.settings, headers=spec.headers)
        self.mapper = VocabularyMapper(spec.vocabulary)
        self._on_checkpoint = on_checkpoint
        self._clock = clock
        self._images = _ImageIndex(state)
        self._failures_in_a_row = 0
        self._successes = 0
        self._last_failure = ""
        self._stored_this_run = 0
        self._bar: Progress | None = None
        self._seen_links: set[str] = set()
        self._report = CrawlReport(site=spec.name, started_at="")
        self._started = self._last_checkpoint = clock()

    def run(self, categories: Iterable[str] | None = None) -> CrawlReport:
        """Crawl the given categories (all by default), in spec order; returns the run's report."""
        selected = [self.spec.category(name) for name in categories] if categories else list(self.spec.categories)
        report = CrawlReport(site=self.spec.name, started_at=_now())
        self._report = report
        self._started = self._clock()
        self._last_checkpoint = self._started
        logger.info("crawling %s: %d categor%s, %.2f s between requests to a host%s", self.spec.name, len(selected),
                    "y" if len(selected) == 1 else "ies", self.settings.request_interval_s,
                    f" ({self.settings.parallel_crawls} crawls share the rate)" if self.settings.parallel_crawls > 1 else "")
        # On a terminal, a bar of the products stored; elsewhere the per-page log lines say it.
        self._bar = Progress(self.settings.max_products, f"scraping {self.spec.name}", logger=logger, unit="product") if bars_wanted() else None
        try:
            for category in selected:
                report.categories[category.name] = Counter()
                self._crawl_category(category, report.categories[category.name])
            if self._failures_in_a_row and not self._successes:
                raise CrawlBlocked(f"{self.spec.name}: the site refused every request of this run "
                                   f"({self._failures_in_a_row} failed, last: {self._last_failure}); rerun later")
        except _Stop as stop:
            report.stop_reason = stop.reason
            report.message = f"stopped: budget {stop.reason} reached"
            logger.info("%s", report.message)
        except CrawlBlocked as err:
            report.stop_reason = STOP_SITE_REFUSING
            report.message = str(err)
            logger.error("%s", err)
        finally:
            if self._bar is not None:
                self._bar.close()
            report.finished_at = _now()
            report.duration_s = self._clock() - self._started
            report.unmapped = self.mapper.unmapped_report()
            stats = self.fetcher.stats
            report.requests = {
                "total": stats.counts["requests"],
                "counts": dict(sorted(stats.counts.items())),
                "interval_s": {host: self.fetcher.throttle.interval_for(host) for host in stats.requests_per_host},
                "achieved_rate_per_s": {host: stats.achieved_rate(host) for host in stats.requests_per_host},
            }
        return report

    def _crawl_category(self, category: CategorySpec, counts: Counter) -> None:
        for start_url in category.start_urls:
            url: str | None = start_url
            seen_pages: set[str] = set()
            while url is not None and url not in seen_pages:
                if self.settings.max_pages is not None and counts["listing_pages"] >= self.settings.max_pages:
                    logger.info("%s: max_pages=%d reached", category.name, self.settings.max_pages)
                    return
                self._check_budget()
                seen_pages.add(url)
                try:
                    page = self.fetcher.get_page(url)
                except URLRefused as err:
                    counts[f"listing_refused_{err.kind}"] += 1
                    logger.warning("%s: listing page not fetched: %s", category.name, err)
                    break
                except FetchFailed as err:
                    counts["listing_failed"] += 1
                    logger.warning("%s: listing page failed: %s", category.name, err)
                    self._failed(err)
                    break
                self._succeeded()
                counts["listing_pages"] += 1
                if self._bar is not None:
                    self._bar.set_postfix(f"{category.name} page {counts['listing_pages']}")
                soup = self._parse(page.body, page.charset)
                links = extract_links(soup, category.product_links, page.url)
                next_url = extract_next_page(soup, category.next_page, page.url)
                stored_before = counts["stored"]
                for link in links:
                    self._product(link, category, counts)
                rate = self._stored_this_run / max(self._clock() - self._started, 1e-9)
                logger.info("%s page %d: %d product links, %d stored (%d this run, %.2f/s)", category.name,
                            counts["listing_pages"], len(links), counts["stored"] - stored_before,
                            self._stored_this_run, rate)
                url = next_url

    def _product(self, link: str, category: CategorySpec, counts: Counter) -> None:
        self._check_budget()
        if not self.spec.allows(link):
            counts["links_off_site"] += 1
            return
        known_id = link_product_id(link, self.spec)
        if self.state.is_visited(product_id=known_id, url=link) or link in self._seen_links:
            counts["skipped_visited"] += 1
            return
        self._seen_links.add(link)
        try:
            page = self.fetcher.get_page(link)
        except URLRefused as err:
            counts[f"refused_{err.kind}"] += 1
            logger.info("product not fetched: %s", err)
            return
        except FetchFailed as err:
            if err.gone:
                counts["gone"] += 1
                self.state.commit([], self._visit(known_id or url_product_id(link), link, category, STATUS_GONE, 0))
                return
            counts["product_failed"] += 1
            logger.warning("product page failed (retried next run): %s", err)
            self._failed(err)
            return
        self._succeeded()
        soup = self._parse(page.body, page.charset)
        product = extract_product(soup, link, self.spec, category)
        if product.product_id is None:
            counts["missing_id"] += 1
            logger.warning("no product id found on %s", redact_url(link))
            return
        if known_id is None and self.state.is_visited(product_id=product.product_id):
            counts["skipped_visited"] += 1
            return
        image_urls = product.image_urls[: self.spec.max_images]
        if not image_urls:
            counts["no_image"] += 1
            self.state.commit([], self._visit(product.product_id, link, category, STATUS_NO_IMAGE, 0))
            return
        names = []
        for image_url in image_urls:
            name = self._store_image(image_url, counts)
            if name is None:
                counts["image_failed"] += 1
                return
            names.append(name)
        rows = self._rows(product, category, image_urls, names)
        self.state.commit(rows, self._visit(product.product_id, link, category, STATUS_STORED, len(rows)))
        counts["stored"] += 1
        counts["images"] += len(rows)
        self._stored_this_run += 1
        if self._bar is not None:
            self._bar.update()
        self._checkpoint_if_due()

    def _store_image(self, url: str, counts: Counter) -> str | None:
        """Download and keep a picture (once per URL); its file name, or None when it failed."""
        if not self.spec.allows(url):
            counts["image_refused_host"] += 1
            return None
        existing = self._images.name_for(url)
        if existing is not None:
            counts["images_already_stored"] += 1
            return existing
        try:
            fetched = self.fetcher.get_image(url)
            decode_image(fetched.body, max_pixels=self.settings.max_image_pixels, name=redact_url(url))
        except URLRefused as err:
            counts[f"image_refused_{err.kind}"] += 1
            logger.info("picture not fetched: %s", err)
            return None
        except FetchFailed as err:
            logger.warning("picture failed (product retried next run): %s", err)
            if not err.gone:
                self._failed(err)
            return None
        except BadImage as err:
            counts["image_unreadable"] += 1
            logger.warning("picture unreadable (product retried next run): %s", err)
            return None
        self._succeeded()
        name = _image_digest(url) + _extension(fetched.body)
        self.state.images.put(name, fetched.body)
        self._images.add(name)
        return name

    def _rows(self, product: ProductPage, category: CategorySpec, image_urls: list[str], names: list[str]) -> list[dict]:
        raw = {k: [v.replace("|", "/") for v in values] for k, values in product.raw_labels.items()}
        types = self.mapper.map("type", raw["type"])
        colours = self.mapper.map("colours", raw["colours"])
        genders = self.mapper.map("gender", raw["gender"])
        scraped_at = _now()
        return [{
            "image": name, "product_id": product.product_id, "view": view, "source": "user",
            "category": category.name, "type": types[0] if types else "", "colours": "|".join(colours),
            "gender": "|".join(genders), "title": product.title, "brand": product.brand,
            "price_amount": product.price_amount, "price_currency": product.price_currency, "size": product.size,
            "condition": product.condition, "raw_type": "|".join(raw["type"]), "raw_colours": "|".join(raw["colours"]),
            "raw_gender": "|".join(raw["gender"]), "url": product.url, "image_url": image_url, "scraped_at": scraped_at,
        } for view, (image_url, name) in enumerate(zip(image_urls, names), start=1)]

    @staticmethod
    def _visit(product_id: str, url: str, category: CategorySpec, status: str, images: int) -> dict[str, Any]:
        return {"product_id": product_id, "url": url, "category": category.name, "status": status,
                "images": images, "visited_at": _now()}

    def _parse(self, body: bytes, charset: str | None):
        started = time.thread_time()
        soup = parse_html(body, charset)
        self._report.parse_cpu_s += time.thread_time() - started
        self._report.parse_pages += 1
        return soup

    def _check_budget(self) -> None:
        if self.settings.max_products is not None and self._stored_this_run >= self.settings.max_products:
            raise _Stop(STOP_MAX_PRODUCTS)
        if self.settings.max_duration_s is not None and self._clock() - self._started >= self.settings.max_duration_s:
            raise _Stop(STOP_MAX_DURATION)

    def _succeeded(self) -> None:
        self._failures_in_a_row = 0
        self._successes += 1

    def _failed(self, err: FetchFailed) -> None:
        if err.retry_after is not None:
            raise CrawlBlocked(
                f"{self.spec.name}: the site asks to wait {err.retry_after:.0f} s before the next request "
                f"(limit max_retry_after_s={self.settings.max_retry_after_s:.0f}); stopped after storing "
                f"{self._stored_this_run} products this run; rerun later to resume") from err
        if not err.refusal:
            return
        self._failures_in_a_row += 1
        self._last_failure = str(err)
        if self._failures_in_a_row >= self.settings.max_consecutive_failures:
            raise CrawlBlocked(
                f"{self.spec.name}: the site keeps refusing: {self._failures_in_a_row} requests in a row failed "
                f"(last: {err}); stopped after storing {self._stored_this_run} products this run; "
                f"visited products are kept, rerun later to resume") from err

    def _checkpoint_if_due(self) -> None:
        if self._on_checkpoint is not None and self._clock() - self._last_checkpoint >= self.settings.checkpoint_s:
            self._on_checkpoint()
            self._last_checkpoint = self._clock()


class _ImageIndex:
    """Which picture URLs are already stored, by the SHA-1 their file names start with."""

    def __init__(self, state: CrawlState):
        self._names: dict[str, str] = {}
        for name in state.images.list():
            self.add(name)

    def add(self, name: str) -> None:
        self._names[name.split(".", 1)[0]] = name

    def name_for(self, url: str) -> str | None:
        return self._names.get(_image_digest(url))


def _image_digest(url: str) -> str:
    return hashlib.sha1(url.encode("utf-8")).hexdigest()


def _extension(data: bytes) -> str:
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return ".webp"
    for magic, extension in _MAGIC:
        if data.startswith(magic):
            return extension
    return ".img"


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")
