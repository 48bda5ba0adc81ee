"""What to keep: the pictures, the product rows and the visited ids, in append-only journals that survive a kill.

A crawl commits a product by appending its rows to the rows journal, then its id to the visited
journal: the visited journal is the commit record. A kill loses at most the product in flight;
rows of uncommitted products are ignored when the tables are built, and a rerun skips visited
products. Journals live in local files (the CLI) or in a DSS managed folder (``street2shop.dss``):
both implement :class:`Journal` and :class:`ImageStore`.
"""

from __future__ import annotations

import csv
import io
import json
import logging
import os
from abc import ABC, abstractmethod
from collections.abc import Iterable
from pathlib import Path
from typing import Any, Protocol

import pandas as pd

from street2shop.errors import StorageError
from street2shop.storage.publish import write_atomic

logger = logging.getLogger(__name__)

#: Columns of the product table, a training manifest (design §3): one row per picture.
MANIFEST_COLUMNS = (
    "image", "product_id", "view", "source", "category", "type", "colours", "gender", "title", "brand",
    "price_amount", "price_currency", "size", "condition", "raw_type", "raw_colours", "raw_gender",
    "url", "image_url", "scraped_at",
)
#: Columns of the visited-ids table (the report's second dataset).
VISITED_COLUMNS = ("product_id", "url", "category", "status", "images", "visited_at")

#: A product whose pictures are stored; its rows are in the product table.
STATUS_STORED = "stored"
#: A product page without any picture: visited, nothing to keep, not fetched again.
STATUS_NO_IMAGE = "no_image"
#: A product page answering 404/410: sold or removed, not fetched again.
STATUS_GONE = "gone"


class Journal(ABC):
    """An append-only log of flat records; what :meth:`append` returned from survives a kill of the process."""

    @abstractmethod
    def append(self, records: list[dict[str, Any]]) -> None:
        """Append ``records`` durably, in one piece as far as the backend allows."""

    @abstractmethod
    def read(self) -> list[dict[str, Any]]:
        """Every complete record, in append order (a record cut by a kill is left out)."""


class ImageStore(Protocol):
    """Where pictures go, by file name."""

    def list(self) -> list[str]:
        """Names of the pictures stored so far."""

    def put(self, name: str, data: bytes) -> None:
        """Store a picture whole (never half-written under its final name)."""


class BlobStore(Protocol):
    """Whole-file storage (a DSS managed folder, a directory): the segmented journal's backend."""

    def list(self, prefix: str) -> list[str]:
        """Paths starting with ``prefix``."""

    def read(self, path: str) -> bytes:
        """The bytes of ``path``."""

    def write(self, path: str, data: bytes) -> None:
        """Replace ``path`` with ``data`` in one piece."""


class CsvJournal(Journal):
    """A CSV file with a header, appended one line per record and flushed at once.

    A line cut by a kill (no final newline) is truncated away when the journal is opened.
    Line breaks inside values are replaced by spaces, so that one line is one record.
    """

    def __init__(self, path: str | Path, columns: tuple[str, ...]):
        self.path = Path(path)
        self.columns = columns
        self._file = _open_append(self.path)
        if self._file.tell() == 0:
            self._write_line(columns)
        else:
            with open(self.path, newline="", encoding="utf-8") as handle:
                header = next(csv.reader(handle), None)
            if tuple(header or ()) != columns:
                self._file.close()
                raise StorageError(f"{self.path}: columns {header} are not the expected {list(columns)}; use another --out")

    def append(self, records: list[dict[str, Any]]) -> None:
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\n")
        for record in records:
            writer.writerow([_one_line(record.get(c)) for c in self.columns])
        self._file.write(buffer.getvalue().encode("utf-8"))
        self._file.flush()

    def read(self) -> list[dict[str, Any]]:
        with open(self.path, newline="", encoding="utf-8") as handle:
            return [dict(row) for row in csv.DictReader(handle)]

    def close(self) -> None:
        self._file.close()

    def _write_line(self, values: Iterable[str]) -> None:
        buffer = io.StringIO()
        csv.writer(buffer, lineterminator="\n").writerow(list(values))
        self._file.write(buffer.getvalue().encode("utf-8"))
        self._file.flush()


class JsonLinesJournal(Journal):
    """A JSON Lines file, appended and flushed per call; a cut last line is truncated away when opened."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        self._file = _open_append(self.path)

    def append(self, records: list[dict[str, Any]]) -> None:
        data = "".join(json.dumps(r, ensure_ascii=False, separators=(",", ":")) + "\n" for r in records)
        self._file.write(data.encode("utf-8"))
        self._file.flush()

    def read(self) -> list[dict[str, Any]]:
        with open(self.path, encoding="utf-8") as handle:
            return [json.loads(line) for line in handle if line.strip()]

    def close(self) -> None:
        self._file.close()


class SegmentedJournal(Journal):
    """A journal in whole-file storage that cannot append (a DSS managed folder on S3, say).

    Records go to segment files ``<prefix><run>-<seq>.jsonl``; each append rewrites the current
    segment whole (a put is atomic), and a new segment starts every ``segment_records`` records,
    so a write costs at most that many lines. Reading concatenates every segment in name order.

    Args:
        blobs: the storage.
        prefix: path prefix of this journal's segments, e.g. ``"state/visited-"``.
        run_id: distinguishes this run's segments from earlier runs' (sortable: a UTC timestamp).
    """

    def __init__(self, blobs: BlobStore, prefix: str, run_id: str, *, segment_records: int = 200):
        self._blobs = blobs
        self._prefix = prefix
        self._run_id = run_id
        self._segment_records = segment_records
        self._seq = 0
        self._lines: list[str] = []

    def append(self, records: list[dict[str, Any]]) -> None:
        if len(self._lines) >= self._segment_records:
            self._seq += 1
            self._lines = []
        self._lines.extend(json.dumps(r, ensure_ascii=False, separators=(",", ":")) + "\n" for r in records)
        self._blobs.write(self._segment_path(), "".join(self._lines).encode("utf-8"))

    def read(self) -> list[dict[str, Any]]:
        records = []
        for path in sorted(p for p in self._blobs.list(self._prefix) if p.endswith(".jsonl")):
            for line in self._blobs.read(path).decode("utf-8").splitlines():
                if line.strip():
                    try:
                        records.append(json.loads(line))
                    except json.JSONDecodeError:
                        logger.warning("%s: skipping a damaged journal line", path)
        return records

    def _segment_path(self) -> str:
        return f"{self._prefix}{self._run_id}-{self._seq:06d}.jsonl"


class DirectoryImages:
    """Pictures as files in a directory, written under a temporary name then renamed."""

    def __init__(self, directory: str | Path):
        self.directory = Path(directory)
        self.directory.mkdir(parents=True, exist_ok=True)

    def list(self) -> list[str]:
        return [p.name for p in self.directory.iterdir() if p.is_file() and ".tmp-" not in p.name]

    def put(self, name: str, data: bytes) -> None:
        write_atomic(self.directory / name, data)


class CrawlState:
    """The visited ids and product rows of a crawl, over two journals and an image store.

    Args:
        rows: journal of product rows (:data:`MANIFEST_COLUMNS`).
        visits: journal of visited products (:data:`VISITED_COLUMNS`); its records commit products.
        images: where pictures are stored.
    """

    def __init__(self, rows: Journal, visits: Journal, images: ImageStore):
        self.rows = rows
        self.visits = visits
        self.images = images
        self.visited_ids: set[str] = set()
        self.visited_urls: set[str] = set()
        for visit in visits.read():
            self._remember(visit)

    def is_visited(self, *, product_id: str | None = None, url: str | None = None) -> bool:
        """Whether a product with this id, or at this URL, was visited by this run or an earlier one."""
        return (product_id is not None and product_id in self.visited_ids) or (url is not None and url in self.visited_urls)

    def commit(self, rows: list[dict[str, Any]], visit: dict[str, Any]) -> None:
        """Store a product: its rows first, then its visit, which makes them count."""
        if rows:
            self.rows.append(rows)
        self.visits.append([visit])
        self._remember(visit)

    def products_frame(self) -> pd.DataFrame:
        """The product table: rows of committed, stored products, the last copy of each (product, view)."""
        stored = set()
        for visit in self.visits.read():
            if visit.get("status") == STATUS_STORED:
                stored.add(str(visit["product_id"]))
        latest: dict[tuple[str, int], dict[str, Any]] = {}
        for row in self.rows.read():
            product_id = str(row.get("product_id"))
            if product_id in stored:
                key = (product_id, int(row.get("view") or 1))
                latest.pop(key, None)  # re-insert so the order is that of the committed copy
                latest[key] = row
        frame = pd.DataFrame(list(latest.values()), columns=list(MANIFEST_COLUMNS))
        frame["product_id"] = frame["product_id"].astype(str)
        frame["view"] = frame["view"].astype("int64")
        frame["price_amount"] = pd.to_numeric(frame["price_amount"], errors="coerce")
        return frame

    def visited_frame(self) -> pd.DataFrame:
        """The visited table: one row per product id (its latest visit)."""
        latest: dict[str, dict[str, Any]] = {}
        for visit in self.visits.read():
            latest.pop(str(visit["product_id"]), None)
            latest[str(visit["product_id"])] = visit
        frame = pd.DataFrame(list(latest.values()), columns=list(VISITED_COLUMNS))
        frame["product_id"] = frame["product_id"].astype(str)
        frame["images"] = pd.to_numeric(frame["images"], errors="coerce").fillna(0).astype("int64")
        return frame

    def _remember(self, visit: dict[str, Any]) -> None:
        self.visited_ids.add(str(visit["product_id"]))
        if visit.get("url"):
            self.visited_urls.add(str(visit["url"]))


def write_csv_atomic(frame: pd.DataFrame, path: str | Path) -> None:
    """Write a DataFrame as CSV (no index) through a temporary file, then rename it."""
    write_atomic(path, frame.to_csv(index=False).encode("utf-8"))


def _open_append(path: Path):
    """Open ``path`` for appending after cutting a last line that a kill left without its newline."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handle = open(path, "a+b")
    size = handle.seek(0, os.SEEK_END)
    if size:
        handle.seek(max(0, size - 1))
        if handle.read(1) != b"\n":
            handle.seek(0)
            data = handle.read()
            keep = data.rfind(b"\n") + 1
            handle.truncate(keep)
            logger.warning("%s: dropped an incomplete last line (%d bytes) left by an interrupted run", path, size - keep)
        handle.seek(0, os.SEEK_END)
    return handle


def _one_line(value: Any) -> Any:
    if isinstance(value, str):
        return " ".join(value.splitlines())
    return "" if value is None else value
