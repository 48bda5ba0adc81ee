"""Tests of the crawl state: append-only journals that survive a kill, and the tables built from them."""

from __future__ import annotations

import pytest

from street2shop.errors import StorageError
from street2shop.scraping.state import (
    MANIFEST_COLUMNS,
    STATUS_NO_IMAGE,
    STATUS_STORED,
    VISITED_COLUMNS,
    CrawlState,
    CsvJournal,
    DirectoryImages,
    JsonLinesJournal,
    SegmentedJournal,
)


class DictBlobs:
    """Whole-file storage in a dict, like a managed folder on S3."""

    def __init__(self):
        self.files: dict[str, bytes] = {}
        self.writes = 0

    def list(self, prefix):
        return [p for p in self.files if p.startswith(prefix)]

    def read(self, path):
        return self.files[path]

    def write(self, path, data):
        self.writes += 1
        self.files[path] = bytes(data)


def _visit(pid, status=STATUS_STORED, url=None):
    return {"product_id": pid, "url": url or f"http://s/item/{pid}", "category": "c", "status": status,
            "images": 1, "visited_at": "t"}


def _row(pid, view=1, title="t"):
    return {"image": f"{pid}-{view}.jpg", "product_id": pid, "view": view, "source": "user", "title": title}


def test_csv_journal_drops_a_line_cut_by_a_kill(tmp_path):
    path = tmp_path / "visited.csv"
    journal = CsvJournal(path, VISITED_COLUMNS)
    journal.append([_visit("1"), _visit("2", url="http://s/item/2?a=1,b\nc")])
    journal.close()
    with open(path, "ab") as handle:
        handle.write(b"3,http://s/item/3,c,sto")  # the kill came mid-line
    journal = CsvJournal(path, VISITED_COLUMNS)
    assert [r["product_id"] for r in journal.read()] == ["1", "2"]
    assert journal.read()[1]["url"] == "http://s/item/2?a=1,b c"
    journal.append([_visit("3")])
    assert [r["product_id"] for r in journal.read()] == ["1", "2", "3"]
    journal.close()
    with pytest.raises(StorageError, match="columns"):
        CsvJournal(path, ("product_id", "other"))


def test_json_lines_journal_drops_a_cut_line(tmp_path):
    path = tmp_path / "rows.jsonl"
    journal = JsonLinesJournal(path)
    journal.append([_row("1"), _row("1", 2)])
    journal.close()
    with open(path, "ab") as handle:
        handle.write(b'{"image": "2-1.jpg", "prod')
    journal = JsonLinesJournal(path)
    assert [(r["product_id"], r["view"]) for r in journal.read()] == [("1", 1), ("1", 2)]
    journal.close()


def test_segmented_journal_rewrites_small_segments_and_reads_runs_in_order():
    blobs = DictBlobs()
    first = SegmentedJournal(blobs, "state/visited-", "20260101T000000", segment_records=2)
    for pid in "12345":
        first.append([_visit(pid)])
    assert sorted(blobs.files) == ["state/visited-20260101T000000-000000.jsonl",
                                   "state/visited-20260101T000000-000001.jsonl",
                                   "state/visited-20260101T000000-000002.jsonl"]
    assert blobs.writes == 5  # one whole-segment put per append
    second = SegmentedJournal(blobs, "state/visited-", "20260102T000000")
    second.append([_visit("6")])
    blobs.files["state/visited-20260102T000000-000000.jsonl"] += b'{"product_id": "7", "st'
    assert [r["product_id"] for r in second.read()] == ["1", "2", "3", "4", "5", "6"]


def test_state_tables_keep_only_committed_products_once(tmp_path):
    rows, visits = JsonLinesJournal(tmp_path / "rows.jsonl"), JsonLinesJournal(tmp_path / "visits.jsonl")
    state = CrawlState(rows, visits, DirectoryImages(tmp_path / "images"))
    state.commit([_row("1"), _row("1", 2)], _visit("1"))
    rows.append([_row("2", title="killed before its visit was written")])
    state.commit([], _visit("3", STATUS_NO_IMAGE))
    state.commit([_row("2", title="rerun")], _visit("2"))
    reopened = CrawlState(rows, visits, DirectoryImages(tmp_path / "images"))
    assert reopened.visited_ids == {"1", "2", "3"}
    assert reopened.is_visited(url="http://s/item/3") and not reopened.is_visited(product_id="4")
    products = reopened.products_frame()
    assert list(products.columns) == list(MANIFEST_COLUMNS)
    assert list(zip(products["product_id"], products["view"])) == [("1", 1), ("1", 2), ("2", 1)]
    assert products.loc[products["product_id"] == "2", "title"].tolist() == ["rerun"]
    visited = reopened.visited_frame()
    assert list(visited.columns) == list(VISITED_COLUMNS)
    assert dict(zip(visited["product_id"], visited["status"])) == {"1": "stored", "3": "no_image", "2": "stored"}


def test_directory_images_are_written_whole(tmp_path):
    images = DirectoryImages(tmp_path / "images")
    images.put("abc.jpg", b"\xff\xd8\xff data")
    assert images.list() == ["abc.jpg"]
    assert (tmp_path / "images" / "abc.jpg").read_bytes() == b"\xff\xd8\xff data"
