"""The scrape recipe's DSS side: crawl state kept in a partitioned managed folder, tables for the output datasets.

Why a folder: a DSS recipe may read and write the managed folders it outputs, file by file, and each
upload is durable at once, on any backend (local, S3, in a Kubernetes container). A dataset
partition, on the other hand, is replaced whole by the recipe that writes it and is only committed
when the job ends; declaring it also as an input makes a cycle DSS refuses. So the journals (rows,
then visited ids, which commit each product) and the pictures live in the output folder, one
partition per category, and the two datasets (products = training manifest, visited ids) are
rewritten from the journals at the end of every run: they then hold everything every run stored.
"""

from __future__ import annotations

import json
import logging
import secrets
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

import pandas as pd

from street2shop.errors import InvalidParameter
from street2shop.scraping.crawler import STOP_SITE_REFUSING, CrawlReport, Crawler
from street2shop.scraping.errors import CrawlBlocked, SiteSpecError
from street2shop.scraping.settings import CrawlSettings
from street2shop.scraping.site_spec import SiteSpec, parse_site_spec
from street2shop.scraping.state import CrawlState, SegmentedJournal
from street2shop.storage.managed_folder import folder_name, folder_paths, folder_read, folder_write

logger = logging.getLogger(__name__)

IMAGES_DIR = "images/"
ROWS_PREFIX = "state/rows-"
VISITS_PREFIX = "state/visited-"
REPORT_FILE = "report.json"


class FolderBlobs:
    """Whole-file storage under a prefix of a managed folder, through ``storage.managed_folder``'s adapter."""

    def __init__(self, folder: Any, prefix: str, partition: str = ""):
        self.folder = folder
        self.prefix = prefix.strip("/") + "/" if prefix.strip("/") else ""
        self.partition = partition
        self._listing: list[str] | None = None

    def list(self, prefix: str) -> list[str]:
        if self._listing is None:
            # One listing per run: only this run writes under the prefix afterwards (one job per partition).
            self._listing = folder_paths(self.folder, self.partition)
        start = self.prefix + prefix
        return [p[len(self.prefix):] for p in self._listing if p.startswith(start)]

    def read(self, path: str) -> bytes:
        return folder_read(self.folder, self.prefix + path, folder_name(self.folder))

    def write(self, path: str, data: bytes) -> None:
        folder_write(self.folder, self.prefix + path, data)
        if self._listing is not None and self.prefix + path not in self._listing:
            self._listing.append(self.prefix + path)


class FolderImages:
    """The pictures of one partition, under ``<partition>/images/`` in the folder."""

    def __init__(self, blobs: FolderBlobs):
        self._blobs = blobs

    def list(self) -> list[str]:
        return [p[len(IMAGES_DIR):] for p in self._blobs.list(IMAGES_DIR)]

    def put(self, name: str, data: bytes) -> None:
        self._blobs.write(IMAGES_DIR + name, data)


@dataclass(frozen=True)
class ScrapeResult:
    """What a partition's run produced: its report and the two tables for the output datasets."""

    report: CrawlReport
    products: pd.DataFrame
    visited: pd.DataFrame


def load_spec(folder: Any, path: str, inline: str | None = None) -> SiteSpec:
    """The site spec: ``inline`` JSON text if given, else the file ``path`` of the input folder.

    Raises:
        SiteSpecError: missing file, invalid JSON or a bad field.
    """
    if inline and inline.strip():
        text, source = inline, "recipe parameter site_spec_json"
    else:
        if folder is None:
            raise SiteSpecError("no site spec: connect the site spec folder or fill 'Site spec (JSON)'")
        source = f"{folder}:{path}"
        try:
            with folder.get_download_stream(path) as stream:
                text = stream.read().decode("utf-8")
        except Exception as err:  # the folder API raises plain Exceptions for a missing path
            raise SiteSpecError(f"{source}: cannot read the site spec: {err}") from err
    try:
        data = json.loads(text)
    except json.JSONDecodeError as err:
        raise SiteSpecError(f"{source}: not valid JSON: {err.msg} at line {err.lineno} column {err.colno}") from err
    return parse_site_spec(data, source=source)


def write_partition(folder: Any) -> str:
    """The partition (category) this run writes: the output folder's, else the ``DKU_DST_*`` flow variable."""
    partition = getattr(folder, "writePartition", None)
    if not partition:
        import dataiku  # only here: the rest of this module works on any folder-shaped object

        values = [v for k, v in (dataiku.get_flow_variables() or {}).items() if k.startswith("DKU_DST_")]  # None outside a recipe
        partition = values[0] if len(values) == 1 else None
    if not partition:
        raise InvalidParameter("the output folder must be partitioned by category (one partition per category)")
    return str(partition)


def scrape_partition(spec: SiteSpec, settings: CrawlSettings, folder: Any, category: str) -> ScrapeResult:
    """Crawl one category into its partition of ``folder``, resuming earlier runs; build the output tables.

    The manifest's ``image`` column is the picture's path from the folder's root (e.g.
    ``robes/images/<sha1>.jpg``), so training reads the pictures from the same folder.

    Raises:
        SiteSpecError: ``category`` is not one of the spec's categories.
    """
    spec.category(category)
    prefix = folder.get_partition_folder(category).strip("/")
    blobs = FolderBlobs(folder, prefix, category)
    run_id = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%S") + "-" + secrets.token_hex(3)
    state = CrawlState(SegmentedJournal(blobs, ROWS_PREFIX, run_id), SegmentedJournal(blobs, VISITS_PREFIX, run_id),
                       FolderImages(blobs))
    if state.visited_ids:
        logger.info("%s: resuming, %d products visited by earlier runs are skipped", category, len(state.visited_ids))
    crawler = Crawler(spec, settings, state)
    try:
        report = crawler.run([category])
    finally:
        crawler.fetcher.close()
    blobs.write(REPORT_FILE, json.dumps(report.to_dict(), indent=2, ensure_ascii=False).encode("utf-8"))
    products = state.products_frame()
    products["image"] = [f"{prefix}/{IMAGES_DIR}{name}" if prefix else f"{IMAGES_DIR}{name}" for name in products["image"]]
    return ScrapeResult(report=report, products=products, visited=state.visited_frame())


def raise_if_blocked(result: ScrapeResult) -> None:
    """Fail the job (after its outputs are written) when the site kept refusing."""
    if result.report.stop_reason == STOP_SITE_REFUSING:
        raise CrawlBlocked(result.report.message)
