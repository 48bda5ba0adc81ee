"""``street2shop fit-weights``: fit the weights of an index's parts on validation user->shop pairs."""

from __future__ import annotations

import argparse
import json

NAME = "fit-weights"
HELP = "fit each model's weight in a multi-part index on user photos with pair_id; prints the weights JSON"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--index", required=True, help="index folder built with several models (embed --models A B ...)")
    parser.add_argument("--images", required=True, help="folder of the query pictures (and, with --synthesised, the catalogue's), or s3://bucket/prefix")
    parser.add_argument("--queries", default=None, help="CSV or Parquet manifest of user photos with pair_id (validation pairs)")
    parser.add_argument(
        "--synthesised", type=int, nargs="?", const=200, default=None, metavar="N",
        help="fit on synthesised user photos of up to N of the index's products (default 200) when no --queries "
        "is given or it has no usable photo",
    )
    parser.add_argument("--split", default=None, help="use only query rows whose 'split' column has this value (e.g. val)")
    parser.add_argument("--objective", default="mrr", choices=["mrr", "top10"], help="what to maximise (default: mean reciprocal rank)")
    parser.add_argument("--step", type=float, default=0.1, help="grid step on the simplex of part shares (default 0.1)")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--out", default=None, help="also write the weights JSON to this file")


def run(args: argparse.Namespace) -> int:
    from street2shop.errors import InvalidParameter, ManifestError
    from street2shop.index.fusion import stored_vectors
    from street2shop.storage.stores import image_source
    from street2shop.index.fit_weights import fit_weights_with_fallback
    from street2shop.manifest import read_table
    from street2shop.index.search import SearchIndex
    from street2shop.storage.publish import write_atomic

    if args.queries is None and args.synthesised is None:
        raise InvalidParameter("give --queries (real user photos), --synthesised, or both (synthesised as the fallback)")
    if args.synthesised is not None and args.synthesised < 2:
        raise InvalidParameter(f"--synthesised needs at least 2 products, got {args.synthesised}")
    index = SearchIndex.load(args.index)
    layout = index.info["layout"]
    if len(layout) < 2:
        raise ManifestError(f"{args.index} was built with one model ({layout[0]['name']}): there is nothing to weigh")
    fit, record = fit_weights_with_fallback(
        index.embedder, stored_vectors(index.vectors), index.items, image_source(args.images),
        queries=read_table(args.queries) if args.queries is not None else None, split=args.split,
        synthesised=args.synthesised, objective=args.objective, step=args.step, batch_size=args.batch_size,
    )
    result = {
        **fit.as_dict(),
        **record,
        "index": str(args.index),
        "models_in_order": [part["name"] for part in layout],
        "embed_model_weights": "--model-weights " + " ".join(f"{w:g}" for w in fit.model_weights),
    }
    text = json.dumps(result, indent=2)
    if args.out:
        write_atomic(args.out, (text + "\n").encode("utf-8"))
    print(text)
    return 0
