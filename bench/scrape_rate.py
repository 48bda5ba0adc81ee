"""Benchmark: the scraper's request rate against its politeness bound, and HTML pages parsed per CPU second.

Run: ``.venv/bin/python bench/scrape_rate.py`` (about 30 s on 2 cores). It serves the test marketplace
(tests/support/marketplace_fixture.py, faults off) on 127.0.0.1, crawls it with a set per-host delay, and
compares the achieved request rate with the bound 1/delay and with a baseline loop that sleeps the
delay after each response (Scrapy's DOWNLOAD_DELAY semantics). Then it times HTML parsing +
extraction of the fixture's pages, and of product pages grown to a real marketplace's size, with
the scraper's lxml + cssselect path against the BeautifulSoup + soupsieve path it replaced
(tests/support/soup_reference.py), checks that both extract the same rows from every page, and
gives a bare lxml parse as the floor.
Prints a Markdown table and writes bench/results/scrape_rate.json.
"""

from __future__ import annotations

import json
import logging
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "python-lib"), str(ROOT / "tests" / "support")]

import dataclasses  # noqa: E402

from lxml import html as lxml_html  # noqa: E402
from marketplace_fixture import Marketplace  # noqa: E402
from soup_reference import soup_extract_links, soup_extract_product, soup_parse_html  # noqa: E402

from street2shop.scraping.directory import scrape_to_directory  # noqa: E402
from street2shop.scraping.extract import extract_links, extract_product, parse_html  # noqa: E402
from street2shop.scraping.settings import CrawlSettings  # noqa: E402
from street2shop.scraping.site_spec import parse_site_spec  # noqa: E402

DELAYS_S = (0.02, 0.05)
EXTRA_PRODUCTS = 10
PARSE_ROUNDS = 3


def crawl_rate(delay_s: float) -> dict:
    """Crawl the fixture with ``delay_s``; the achieved start-to-start rate on the host and the URLs requested."""
    with Marketplace(faults=False, extra_per_category=EXTRA_PRODUCTS) as market, tempfile.TemporaryDirectory() as out:
        spec = parse_site_spec(market.site_spec())
        settings = CrawlSettings().with_overrides(**spec.politeness).with_overrides(delay_s=delay_s)
        started = time.monotonic()
        report = scrape_to_directory(spec, settings, out)
        wall = time.monotonic() - started
        host = market.base_url.removeprefix("http://")
        rate = report.requests["achieved_rate_per_s"][host]
        return {"delay_s": delay_s, "bound_per_s": 1 / delay_s, "achieved_per_s": rate, "ratio": rate * delay_s,
                "requests": report.requests["total"], "stored": report.totals["stored"], "wall_s": wall,
                "pages_parsed": report.parse_pages, "parse_cpu_s": report.parse_cpu_s,
                "urls": [market.base_url + path for path in market.requested_paths()]}


def baseline_rate(urls: list[str], delay_s: float) -> float:
    """Requests per second of a loop that sleeps ``delay_s`` after each response, on the same URLs."""
    with Marketplace(faults=False, extra_per_category=EXTRA_PRODUCTS) as market, requests.Session() as session:
        old_base = "/".join(urls[0].split("/")[:3])
        starts = []
        for url in urls:
            starts.append(time.monotonic())
            session.get(url.replace(old_base, market.base_url), timeout=10).content
            time.sleep(delay_s)
        return (len(starts) - 1) / (starts[-1] - starts[0])


def _heavy(body: bytes) -> bytes:
    """A product page grown to a real marketplace's size (~250 KB): menus, recommendation cards, scripts."""
    cards = "".join(f'<li class="reco"><a href="/item/{i}-x"><img src="/img/{i}.jpg" alt="reco {i}">'
                    f'<span class="price">{i},00 €</span><span class="brand">Brand {i}</span></a></li>'
                    for i in range(1200))
    menu = "".join(f'<li><a href="/catalog/c{i}">Category {i}</a></li>' for i in range(300))
    script = "<script>" + "var x = 1;" * 2000 + "</script>"
    filler = f'<nav class="menu"><ul>{menu}</ul></nav><section><ul class="recos">{cards}</ul></section>{script}'
    return body.replace(b"</body>", filler.encode() + b"</body>")


def parse_rates() -> dict:
    """Pages per CPU second: ours (lxml + compiled cssselect selectors) vs the old BeautifulSoup + soupsieve path, same rows."""
    with Marketplace(faults=False, extra_per_category=EXTRA_PRODUCTS) as market, requests.Session() as session:
        spec = parse_site_spec(market.site_spec())
        category = spec.categories[0]
        pages = []
        for name in market.catalogue:
            for page in range(1, len(market.listing_pages(name)) + 1):
                pages.append(("listing", session.get(f"{market.base_url}/catalog/{name}?page={page}").content))
        for product in market.products.values():
            pages.append(("product", session.get(f"{market.base_url}/item/{product.product_id}").content))

    heavy = [(kind, _heavy(body)) for kind, body in pages if kind == "product"][:3]
    ours = (parse_html, extract_links, extract_product)
    old = (soup_parse_html, soup_extract_links, soup_extract_product)

    def rows(path, kind: str, body: bytes):
        parse, links, product = path
        document = parse(body)
        if kind == "listing":
            return links(document, category.product_links, "http://127.0.0.1/")
        return dataclasses.asdict(product(document, "http://127.0.0.1/item/101", spec, category))

    def run(path, pages=pages) -> float:
        timings = []
        for _ in range(PARSE_ROUNDS):
            started = time.process_time()
            for kind, body in pages:
                if path is None:
                    _bare_lxml(body)
                else:
                    rows(path, kind, body)
            timings.append(time.process_time() - started)
        return len(pages) / statistics.median(timings)

    def same(pages) -> int:
        return sum(rows(ours, kind, body) == rows(old, kind, body) for kind, body in pages)

    return {
        name: {
            "pages": len(group), "mean_bytes": statistics.mean(len(b) for _, b in group), "identical_rows": same(group),
            "ours_lxml_cssselect_per_cpu_s": run(ours, group),
            "old_beautifulsoup_soupsieve_per_cpu_s": run(old, group),
            "floor_bare_lxml_parse_only_per_cpu_s": run(None, group),
        }
        for name, group in (("fixture", pages), ("heavy", heavy))
    }


def _bare_lxml(body: bytes) -> None:
    lxml_html.fromstring(body)


def main() -> None:
    logging.basicConfig(level=logging.ERROR)  # the sub-second delays would warn on every crawl
    crawls = []
    for delay in DELAYS_S:
        result = crawl_rate(delay)
        result["baseline_sleep_after_per_s"] = baseline_rate(result.pop("urls"), delay)
        crawls.append(result)
    parsing = parse_rates()
    print("| per-host delay | bound (req/s) | achieved (req/s) | achieved / bound | baseline sleep-after (req/s) "
          "| ours / baseline | requests | products |")
    print("|---|---|---|---|---|---|---|---|")
    for c in crawls:
        print(f"| {c['delay_s']:.2f} s | {c['bound_per_s']:.1f} | {c['achieved_per_s']:.2f} | {c['ratio']:.3f} "
              f"| {c['baseline_sleep_after_per_s']:.2f} | {c['achieved_per_s'] / c['baseline_sleep_after_per_s']:.2f} "
              f"| {c['requests']} | {c['stored']} |")
    print()
    print("| HTML parsing + extraction | fixture pages / CPU s | vs old | ~230 KB pages / CPU s | vs old |")
    print("|---|---|---|---|---|")
    light, heavy = parsing["fixture"], parsing["heavy"]
    base = "old_beautifulsoup_soupsieve_per_cpu_s"
    for key, label in (("ours_lxml_cssselect_per_cpu_s", "ours: lxml.html + cssselect, selectors compiled once"),
                       (base, "old: BeautifulSoup + lxml, soupsieve selectors"),
                       ("floor_bare_lxml_parse_only_per_cpu_s", "floor: bare lxml.html parse, no extraction")):
        print(f"| {label} | {light[key]:.0f} | {light[key] / light[base]:.1f} | {heavy[key]:.1f} | {heavy[key] / heavy[base]:.1f} |")
    print(f"\n(fixture pages: {light['mean_bytes'] / 1000:.1f} KB on average; heavy: {heavy['mean_bytes'] / 1000:.0f} KB)")
    for name, group in parsing.items():
        print(f"identical extracted rows, {name}: {group['identical_rows']}/{group['pages']} pages")
    results = {"crawl": crawls, "parsing": parsing, "machine": {"python": platform.python_version(),
                                                                 "processor": platform.processor() or platform.machine()}}
    out = ROOT / "bench" / "results" / "scrape_rate.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=2), encoding="utf-8")
    print(f"\nwritten {out.relative_to(ROOT)}")
    if any(group["identical_rows"] != group["pages"] for group in parsing.values()):
        print("WARNING: the lxml path extracted different rows from the BeautifulSoup path on some page")
    worst = min(c["ratio"] for c in crawls)
    if worst < 0.9:
        print(f"WARNING: achieved rate is {worst:.2f} of the politeness bound (target >= 0.9)")


if __name__ == "__main__":
    main()
