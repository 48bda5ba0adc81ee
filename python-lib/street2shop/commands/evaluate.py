"""``street2shop evaluate``: top-k retrieval accuracy of an index on user photos, as JSON."""

from __future__ import annotations

import argparse
import json

NAME = "evaluate"
HELP = "evaluate user->shop retrieval of an index (JSON on stdout)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--index", required=True, help="index folder built by `street2shop embed`")
    parser.add_argument("--images", required=True, help="folder of the query pictures")
    parser.add_argument("--queries", required=True, help="manifest of queries (source=user rows with pair_id)")
    parser.add_argument("-k", type=int, default=10, help="also report top-k for this k (1, 5, 10, 20 always)")
    parser.add_argument("--report", default=None, help="folder for the HTML/PNG report")
    parser.add_argument("--batch-size", type=int, default=32)


def run(args: argparse.Namespace) -> int:
    from street2shop.errors import InvalidParameter
    from street2shop.evaluation.retrieval import DEFAULT_KS
    from street2shop.evaluation.job import evaluate_catalogue
    from street2shop.storage.publish import LocalOutputDir

    if args.k < 1:
        raise InvalidParameter(f"-k must be at least 1, got {args.k}")
    result = evaluate_catalogue(
        index=args.index,
        queries=args.queries,
        images=args.images,
        ks=sorted(set(DEFAULT_KS) | {args.k}),
        batch_size=args.batch_size,
        report=LocalOutputDir(args.report) if args.report else None,
    )
    print(json.dumps(result.summary()))
    return 0
