"""``street2shop make-demo-catalog OUT``: draw a labelled demo catalogue with no download."""

from __future__ import annotations

import argparse
import json

NAME = "make-demo-catalog"
HELP = "generate a small labelled catalogue (shop shots, street photos, masks, planted duplicates)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Declare the subcommand's arguments."""
    parser.add_argument(
        "out", metavar="OUT", help="directory to write (new, empty, or an earlier demo catalogue, which is replaced)"
    )
    parser.add_argument("--products", type=int, default=120, help="number of distinct products (default 120)")
    parser.add_argument("--user-photos", type=int, default=2, help="consumer photos per product (default 2)")
    parser.add_argument("--size", type=int, default=256, help="picture side in pixels (default 256)")
    parser.add_argument(
        "--duplicate-fraction", type=float, default=0.1, help="share of products given a planted duplicate (0.1)"
    )
    parser.add_argument("--seed", type=int, default=0, help="random seed; the same seed, the same files (default 0)")


def run(args: argparse.Namespace) -> int:
    """Generate the catalogue and print a one-line JSON summary."""
    from street2shop.demo.catalogue import make_demo_catalog

    catalogue = make_demo_catalog(
        args.out,
        n_products=args.products,
        user_photos_per_product=args.user_photos,
        image_size=args.size,
        duplicate_fraction=args.duplicate_fraction,
        seed=args.seed,
    )
    summary = {
        "out": str(catalogue.root),
        **catalogue.summary()["counts"],
        "manifest": str(catalogue.manifest),
        "catalog": str(catalogue.catalog),
        "queries": str(catalogue.queries),
        "duplicates_csv": str(catalogue.duplicates),
    }
    print(json.dumps(summary))
    return 0
