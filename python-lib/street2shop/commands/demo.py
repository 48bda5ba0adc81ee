"""``street2shop demo``: the main job end to end on a generated catalogue, with nothing to download."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

NAME = "demo"
HELP = "generate a demo catalogue, index it, evaluate user->shop search and show results"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--out", default="demo-output", help="working folder (default: demo-output)")
    parser.add_argument("--products", type=int, default=120, help="products in the demo catalogue")
    parser.add_argument("--user-photos", type=int, default=2, help="consumer photos per product")
    parser.add_argument("--backbone", default="resnet50")
    parser.add_argument("--weights", default="none", help="imagenet (needs internet once), none, or a weights file/folder")
    parser.add_argument("--image-size", type=int, default=None)
    parser.add_argument("-k", type=int, default=5, help="results shown for the sample query")


def run(args: argparse.Namespace) -> int:
    import pandas as pd

    from street2shop.demo_catalog import make_demo_catalog
    from street2shop.jobs import embed_catalogue, evaluate_catalogue, image_source
    from street2shop.search import SearchIndex
    from street2shop.storage import LocalOutputDir

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    print(f"[1/4] generating the demo catalogue in {out / 'catalog'}", flush=True)
    catalog = make_demo_catalog(out / "catalog", n_products=args.products, user_photos_per_product=args.user_photos)
    print(f"[2/4] embedding the shop pictures with {args.backbone} (weights: {args.weights})", flush=True)
    built = embed_catalogue(
        manifest=catalog.catalog,
        images=catalog.images_dir,
        output=LocalOutputDir(out / "index"),
        backbone=args.backbone,
        weights=args.weights,
        image_size=args.image_size,
    )
    print(f"      indexed {built.indexed} pictures into {out / 'index'} ({len(built.errors)} errors)", flush=True)
    print("[3/4] evaluating user->shop retrieval", flush=True)
    index = SearchIndex.load(out / "index")
    result = evaluate_catalogue(
        index=index, queries=catalog.queries, images=catalog.images_dir, report=LocalOutputDir(out / "report")
    )
    print(json.dumps(result.summary()), flush=True)
    queries = pd.read_csv(catalog.queries, dtype=str, keep_default_na=False)
    sample = queries.iloc[0]
    print(f"[4/4] top {args.k} for the consumer photo {sample['image']} (pair {sample['pair_id']}):", flush=True)
    hits = index.search_bytes(image_source(catalog.images_dir).read_bytes(sample["image"]), k=args.k)
    for rank, hit in enumerate(hits, start=1):
        mark = "  <- same product" if hit["product_id"] == sample["product_id"] else ""
        print(f"      {rank}. {hit['product_id']}  score {hit['score']:.3f}  {hit['image']}{mark}")
    print(f"report: {(out / 'report' / 'report.html').resolve()}")
    return 0
