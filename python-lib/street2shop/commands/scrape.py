"""``street2shop scrape``: crawl a marketplace described by a site spec into a directory (resumable)."""

from __future__ import annotations

import argparse
import json
import sys

from street2shop.scraping.crawler import STOP_SITE_REFUSING
from street2shop.scraping.directory import scrape_to_directory
from street2shop.scraping.settings import CrawlSettings
from street2shop.scraping.site_spec import load_site_spec

NAME = "scrape"
HELP = "Crawl labelled consumer photos from a marketplace described by a JSON site spec (polite, resumable)."

#: Exit status when the site keeps refusing (outputs are still written; rerun later to resume).
EXIT_SITE_REFUSING = 3


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--site", required=True, metavar="SITE.json", help="the site spec (see docs/scraping.md)")
    parser.add_argument("--out", required=True, metavar="DIR",
                        help="output directory: products.csv (training manifest), visited.csv, images/, report.json")
    parser.add_argument("--category", action="append", metavar="NAME",
                        help="crawl only this category (repeat for several; default: all)")
    parser.add_argument("--max-pages", type=int, metavar="N", help="listing pages per category and run")
    parser.add_argument("--max-products", type=int, metavar="N", help="products stored per run")
    parser.add_argument("--max-duration", type=float, metavar="S", help="seconds per run")
    parser.add_argument("--delay", type=float, metavar="S",
                        help="seconds between requests to a host (default 1; robots.txt Crawl-delay wins if larger)")
    parser.add_argument("--parallel-crawls", type=int, metavar="N",
                        help="crawls of this site running at once (e.g. one per category): each takes 1/N of the rate")
    parser.add_argument("--user-agent", metavar="UA", help="identify the crawler, ideally with a contact URL or e-mail")


def run(args: argparse.Namespace) -> int:
    spec = load_site_spec(args.site)
    settings = CrawlSettings().with_overrides(**spec.politeness).with_overrides(
        max_pages=args.max_pages, max_products=args.max_products, max_duration_s=args.max_duration,
        delay_s=args.delay, parallel_crawls=args.parallel_crawls, user_agent=args.user_agent,
    )
    report = scrape_to_directory(spec, settings, args.out, categories=args.category)
    totals = report.totals
    print(json.dumps({"stop_reason": report.stop_reason, "stored": totals["stored"], "images": totals["images"],
                      "skipped_visited": totals["skipped_visited"], "failed": totals["product_failed"] + totals["image_failed"],
                      "requests": report.requests.get("total", 0), "unmapped": report.unmapped, "out": str(args.out)}))
    if report.stop_reason == STOP_SITE_REFUSING:
        print(f"street2shop scrape: error: {report.message}", file=sys.stderr)
        return EXIT_SITE_REFUSING
    return 0
