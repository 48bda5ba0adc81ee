"""End-to-end crawls of the local marketplace: what is stored, what is skipped, resume, budgets, refusals."""

from __future__ import annotations

import hashlib
import json
import time
from collections import Counter

import pandas as pd
import pytest
from marketplace_fixture import Marketplace

from street2shop.cli import main
from street2shop.images.decode import decode_image
from street2shop.manifest import validate_manifest
from street2shop.scraping.crawler import STOP_MAX_DURATION, STOP_MAX_PRODUCTS, STOP_SITE_REFUSING, Crawler
from street2shop.scraping.fetch import Fetcher
from street2shop.scraping.settings import CrawlSettings
from street2shop.scraping.site_spec import parse_site_spec
from street2shop.scraping.state import CrawlState, DirectoryImages, JsonLinesJournal

FAST = {"read_timeout_s": 0.25, "backoff_factor_s": 0.02, "max_retries": 2}


def _write_spec(market: Marketplace, path, **politeness) -> str:
    path.write_text(json.dumps(market.site_spec(**{**FAST, **politeness})), encoding="utf-8")
    return str(path)


def _products(out) -> pd.DataFrame:
    return pd.read_csv(out / "products.csv", dtype=str, keep_default_na=False)


@pytest.fixture(scope="module")
def crawl(tmp_path_factory):
    """One complete crawl through the CLI, then a second run on the same output directory."""
    tmp = tmp_path_factory.mktemp("crawl")
    with Marketplace() as market:
        spec = _write_spec(market, tmp / "site.json")
        out = tmp / "out"
        assert main(["scrape", "--site", spec, "--out", str(out), "--delay", "0.01"]) == 0
        first = {"products": _products(out), "report": json.loads((out / "report.json").read_text()),
                 "hits": dict(market.hits), "paths": market.requested_paths()}
        assert main(["scrape", "--site", spec, "--out", str(out), "--delay", "0.01"]) == 0
        second_hits = {p: n - first["hits"].get(p, 0) for p, n in market.hits.items() if n > first["hits"].get(p, 0)}
        yield market, out, first, second_hits


def test_every_listed_product_is_stored_once_with_mapped_labels(crawl):
    market, out, first, _ = crawl
    products = first["products"]
    assert set(products["product_id"]) == market.expected_stored()
    assert not products.duplicated(["product_id", "view"]).any()
    for pid, rows in products.groupby("product_id"):
        expected = market.products[pid]
        assert rows["view"].tolist() == [str(v) for v in range(1, len(expected.images) + 1)]
        row = rows.iloc[0]
        assert row["category"] == expected.category and row["source"] == "user"
        assert row["type"] == expected.expected_type
        assert row["colours"] == "|".join(expected.expected_colours)
        assert row["gender"] == "|".join(expected.expected_gender)
        assert row["raw_colours"] == "|".join(expected.colours) and row["raw_gender"] == expected.gender
        assert row["raw_type"] == (expected.type_word or "costumes-and-blazers")
        assert row["title"] == expected.title and row["brand"] == (expected.brand or "")
        assert float(row["price_amount"]) == pytest.approx(expected.price_amount) and row["price_currency"] == "EUR"
        assert row["size"] == (expected.size or "") and row["condition"] == expected.condition
        assert row["url"].startswith(f"{market.base_url}/item/{pid}-")
    for _, row in products.iterrows():
        assert row["image"] == hashlib.sha1(row["image_url"].encode()).hexdigest() + ".jpg"
        picture = decode_image((out / "images" / row["image"]).read_bytes())
        assert picture.shape == (128, 96, 3)


def test_products_csv_is_a_valid_training_manifest(crawl):
    _, out, first, _ = crawl
    check = validate_manifest(out / "products.csv", label_columns=["type", "colours", "gender"])
    assert check.errors.empty and len(check.rows) == len(first["products"])
    vocab = {"type": {"dresses", "jackets/coats"}, "colours": {"blue", "black", "grey", "white", "red", "beige", "pink"},
             "gender": {"women", "men"}}
    for column, allowed in vocab.items():
        assert {v for cell in check.rows[column] for v in cell.split("|") if v} <= allowed


def test_the_scraped_output_trains_a_model_unchanged(crawl, tmp_path):
    _, out, _, _ = crawl
    model = tmp_path / "type-model"
    args = ["train", "--images", str(out / "images"), "--manifest", str(out / "products.csv"), "--label", "type",
            "--out", str(model), "--backbone", "small-cnn", "--image-size", "32", "--width", "4", "--encoding-units", "8",
            "--epochs", "1", "--batch-size", "8", "--min-count", "1", "--validation-share", "0.3"]
    assert main(args) == 0
    description = json.loads((model / "model.json").read_text())
    assert set(description["classes"]) <= {"dresses", "jackets/coats"} and len(description["classes"]) == 2


def test_faults_are_handled_and_reported(crawl):
    market, out, first, _ = crawl
    paths = first["paths"]
    assert not any(p.startswith("/private/") for p in paths)  # robots.txt Disallow
    assert "/item/666" not in paths  # the link a script would have added
    assert not any("elsewhere" in p for p in paths)  # the off-site redirect's target
    twice = [p for p in paths if p.startswith(f"/item/{Marketplace.TWICE_LISTED}-")]
    assert len(twice) == 1
    assert first["hits"][Marketplace.RATE_LIMITED_PAGE] == 2
    report = first["report"]
    totals = report["totals"]
    assert totals["stored"] == len(market.expected_stored()) == report["products"]
    assert totals["refused_robots"] == 1 and totals["refused_redirect"] == 1 and totals["links_off_site"] == 1
    assert totals["product_failed"] == 1 and totals["gone"] == 1 and totals["no_image"] == 1
    assert totals["skipped_visited"] == 1
    unmapped = Counter(c for pid in market.expected_stored() for c in market.products[pid].colours
                       if c in ("kaki", "moutarde"))
    assert report["unmapped"] == {"colours": dict(unmapped)} and set(unmapped) == {"kaki", "moutarde"}
    assert report["requests"]["counts"]["http_429"] == 1 and report["requests"]["counts"]["timeouts"] == 1
    visited = pd.read_csv(out / "visited.csv", dtype=str)
    assert set(visited["product_id"]) == market.expected_stored() | {Marketplace.NO_IMAGE, Marketplace.GONE}
    assert Marketplace.ALWAYS_500 not in set(visited["product_id"])


def test_rerun_skips_visited_products_and_keeps_the_table(crawl):
    market, out, first, second_hits = crawl
    items = sorted(p for p in second_hits if p.startswith(("/item/", "/img/")))
    assert items == [f"/item/{Marketplace.ALWAYS_500}-robes-mango-n-109", f"/item/{Marketplace.OFFSITE_REDIRECT.split('/')[-1]}"]
    pd.testing.assert_frame_equal(_products(out), first["products"])
    assert json.loads((out / "report.json").read_text())["totals"]["skipped_visited"] == len(market.expected_stored()) + 3


def test_failed_picture_is_retried_on_the_next_run(tmp_path):
    with Marketplace() as market:
        market.broken_images = {"/img/203-1.jpg"}
        spec = _write_spec(market, tmp_path / "site.json")
        args = ["scrape", "--site", spec, "--out", str(tmp_path / "out"), "--delay", "0.01",
                "--category", "costumes-and-blazers"]
        assert main(args) == 0
        assert "203" not in set(_products(tmp_path / "out")["product_id"])
        market.broken_images = set()
        before = dict(market.hits)
        assert main(args) == 0
        refetched = sorted(p for p, n in market.hits.items() if n > before.get(p, 0) and p.startswith(("/item", "/img")))
        assert refetched == ["/img/203-1.jpg", "/item/203-costumes-vintage-n-203"]
        ids = set(_products(tmp_path / "out")["product_id"])
        assert "203" in ids and ids == {p.product_id for p in market.catalogue["costumes-and-blazers"]} - {"204"}


def _crawler(market, tmp_path, fake_sleep=True, **settings) -> Crawler:
    spec = parse_site_spec(market.site_spec())
    values = {**FAST, "delay_s": 0.01, **settings}
    offset = [0.0]

    def clock():
        return time.monotonic() + offset[0]

    def sleep(seconds):
        offset[0] += seconds

    fetcher = Fetcher(spec.allowed_hosts, CrawlSettings(**values), clock=clock, sleep=sleep if fake_sleep else time.sleep)
    state = CrawlState(JsonLinesJournal(tmp_path / "rows.jsonl"), JsonLinesJournal(tmp_path / "visits.jsonl"),
                       DirectoryImages(tmp_path / "images"))
    return Crawler(spec, CrawlSettings(**values), state, fetcher=fetcher, clock=clock)


def test_budgets_end_the_run_cleanly(tmp_path):
    with Marketplace() as market:
        report = _crawler(market, tmp_path / "a", max_products=3).run()
        assert report.stop_reason == STOP_MAX_PRODUCTS and report.totals["stored"] == 3
        report = _crawler(market, tmp_path / "b", max_pages=1).run()
        assert report.stop_reason == "completed"
        assert report.categories["robes"]["listing_pages"] == 1
        assert report.categories["costumes-and-blazers"]["listing_pages"] == 1
        report = _crawler(market, tmp_path / "c", max_duration_s=0).run(["robes"])
        assert report.stop_reason == STOP_MAX_DURATION and report.totals["stored"] == 0


def test_site_that_keeps_refusing_stops_the_crawl(tmp_path, capsys):
    with Marketplace() as market:
        market.refuse_prefix = "/item/"
        report = _crawler(market, tmp_path / "lib", max_consecutive_failures=3).run()
        assert report.stop_reason == STOP_SITE_REFUSING
        assert "keeps refusing: 3 requests in a row failed" in report.message and "rerun later" in report.message
        assert report.totals["listing_pages"] == 1 and report.totals["product_failed"] == 3
        market.refuse_prefix = "/"
        spec = _write_spec(market, tmp_path / "site.json", max_retries=1, max_consecutive_failures=2)
        assert main(["scrape", "--site", spec, "--out", str(tmp_path / "out"), "--delay", "0.01"]) == 3
        assert "the site keeps refusing" in capsys.readouterr().err
        assert (tmp_path / "out" / "products.csv").exists()


def test_bad_spec_is_a_one_line_error(tmp_path, capsys):
    spec = tmp_path / "site.json"
    spec.write_text(json.dumps({"allowed_hosts": ["127.0.0.1"], "fields": {}, "categories": []}))
    assert main(["scrape", "--site", str(spec), "--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "fields: must describe 'images'" in err
