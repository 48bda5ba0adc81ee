"""A crawl into a local directory (the CLI): pictures, journals, and the product and visited tables.

Layout of the output directory::

    images/<sha1 of the picture URL>.<ext>   the pictures
    products.csv       the training manifest (``image`` is relative to images/), rewritten whole
                       at checkpoints and at the end of every run
    visited.csv        the visited ids, appended as each product is stored (the commit record)
    journal/rows.jsonl product rows, appended before their visited line
    report.json        the last run's counters, unmapped site words, stop reason and rates
"""

from __future__ import annotations

import fcntl
import json
import logging
from pathlib import Path

from street2shop.errors import StorageError
from street2shop.scraping.crawler import CrawlReport, Crawler
from street2shop.scraping.settings import CrawlSettings
from street2shop.scraping.site_spec import SiteSpec
from street2shop.scraping.state import (
    VISITED_COLUMNS,
    CrawlState,
    CsvJournal,
    DirectoryImages,
    JsonLinesJournal,
    write_csv_atomic,
)
from street2shop.storage.publish import write_atomic

logger = logging.getLogger(__name__)

PRODUCTS_FILE = "products.csv"
VISITED_FILE = "visited.csv"
REPORT_FILE = "report.json"
IMAGES_DIR = "images"
ROWS_JOURNAL = "journal/rows.jsonl"


def scrape_to_directory(spec: SiteSpec, settings: CrawlSettings, out_dir: str | Path, *,
                        categories: list[str] | None = None) -> CrawlReport:
    """Crawl ``spec``'s categories into ``out_dir``, resuming what earlier runs stored there.

    Args:
        spec: the site.
        settings: politeness, limits and budgets.
        out_dir: the output directory (created if needed); one crawl at a time may use it.
        categories: names of the categories to crawl (all by default).

    Returns:
        The run's report (also written to ``report.json``).

    Raises:
        StorageError: another crawl holds the directory, or its files do not match this layout.
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    if categories:
        for name in categories:
            spec.category(name)
    with open(out / ".lock", "w") as lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise StorageError(f"{out}: another crawl is writing to this directory") from None
        _remove_leftovers(out)
        rows = JsonLinesJournal(out / ROWS_JOURNAL)
        visits = CsvJournal(out / VISITED_FILE, VISITED_COLUMNS)
        try:
            state = CrawlState(rows, visits, DirectoryImages(out / IMAGES_DIR))
            crawler = Crawler(spec, settings, state, on_checkpoint=lambda: write_tables(state, out))
            if state.visited_ids:
                logger.info("resuming: %d products visited by earlier runs are skipped", len(state.visited_ids))
            try:
                report = crawler.run(categories)
            finally:
                crawler.fetcher.close()
                write_tables(state, out)
            summary = report.to_dict()
            summary["products"] = int(state.products_frame()["product_id"].nunique())
            summary["visited"] = len(state.visited_ids)
            write_atomic(out / REPORT_FILE, json.dumps(summary, indent=2, ensure_ascii=False).encode("utf-8"))
        finally:
            rows.close()
            visits.close()
    return report


def write_tables(state: CrawlState, out: Path) -> None:
    """Rewrite ``products.csv`` from the journals, whole (temporary file, then rename)."""
    frame = state.products_frame()
    write_csv_atomic(frame, out / PRODUCTS_FILE)
    logger.info("%s: %d pictures of %d products", out / PRODUCTS_FILE, len(frame), frame["product_id"].nunique())


def _remove_leftovers(out: Path) -> None:
    """Delete temporary files a killed run left (we hold the lock: nobody else is writing them)."""
    for leftover in [*out.glob("*.tmp-*"), *(out / IMAGES_DIR).glob("*.tmp-*")]:
        leftover.unlink(missing_ok=True)
