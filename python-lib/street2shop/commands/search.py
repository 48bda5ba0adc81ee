"""``street2shop search``: the most similar catalogue products for one picture, as JSON."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from street2shop.errors import InvalidParameter

NAME = "search"
HELP = "search an index folder with a picture (JSON on stdout)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--index", required=True, help="index folder built by `street2shop embed`")
    parser.add_argument("--image", required=True, help="the query picture")
    parser.add_argument("-k", type=int, default=10, help="number of products (default 10)")
    parser.add_argument("--filter", action="append", default=[], metavar="COLUMN=VALUE[,VALUE]", help="keep products with one of these labels")
    parser.add_argument("--models", nargs="+", default=None, metavar="DIR", help="encoder folders to use instead of the index's own (must match it)")
    parser.add_argument("--no-garments", dest="garments", action="store_false",
                        help="no person model: only the single answer for the whole picture (default: when a person is found, "
                        "also the products for each garment they wear, under 'garments')")


def parse_filters(specs: list[str]) -> dict[str, list[str]]:
    """``["type=dresses,skirts"]`` -> ``{"type": ["dresses", "skirts"]}``."""
    filters: dict[str, list[str]] = {}
    for spec in specs:
        column, sep, values = spec.partition("=")
        if not sep or not column.strip() or not values.strip():
            raise InvalidParameter(f"--filter {spec!r}: expected COLUMN=VALUE[,VALUE...]")
        filters.setdefault(column.strip(), []).extend(v.strip() for v in values.split(",") if v.strip())
    return filters


def run(args: argparse.Namespace) -> int:
    from street2shop.models.loading import load_encoder
    from street2shop.index.outfit import outfit_fields
    from street2shop.index.search import SearchIndex

    filters = parse_filters(args.filter)
    person_model = None
    if args.garments:
        from street2shop.segmentation.person import PersonModel

        person_model = PersonModel()  # a missing file fails here, naming the set-up command
    encoders = [load_encoder(path) for path in args.models] if args.models else None
    index = SearchIndex.load(args.index, encoders=encoders)
    try:
        data = Path(args.image).read_bytes()
    except FileNotFoundError:
        raise
    except OSError as err:
        raise InvalidParameter(f"--image {args.image}: cannot read ({err.strerror or err})") from None
    answer = index.answer(data, k=args.k, filters=filters, person_model=person_model)
    garments, person = outfit_fields(answer.outfit)
    query = {"attributes": answer.attributes, "segmented": answer.segmented, **person}
    print(json.dumps({"results": answer.results, "query": query, **garments}, ensure_ascii=False))
    return 0
