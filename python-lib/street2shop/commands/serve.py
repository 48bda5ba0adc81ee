"""``street2shop serve``: the recommend API (same URL and envelope as the DSS API node), thumbnails and the page."""

from __future__ import annotations

import argparse

from street2shop.errors import InvalidParameter

NAME = "serve"
HELP = "serve an index: the recommend API, the search page and thumbnails (until Ctrl-C)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from street2shop.serving.server import DEFAULT_HOST, DEFAULT_PORT

    parser.add_argument("--index", required=True, help="index folder built by `street2shop embed`")
    parser.add_argument("--images", default=None, help="the catalogue's image folder, to show product pictures")
    parser.add_argument("--host", default=DEFAULT_HOST, help=f"address to listen on (default {DEFAULT_HOST}: this machine only)")
    parser.add_argument("--port", type=int, default=DEFAULT_PORT, help=f"port (default {DEFAULT_PORT}; 0 picks a free one)")
    parser.add_argument("--threads", type=int, default=8, help="requests served at once (default 8)")
    parser.add_argument("--max-image-mb", type=float, default=8.0, help="largest picture accepted, in MB (default 8)")
    parser.add_argument("--max-k", type=int, default=100, help="most products one request may ask for (default 100)")


def run(args: argparse.Namespace) -> int:
    from street2shop.serving.recommend import Limits
    from street2shop.serving.server import serve_forever

    if not 0 <= args.port <= 65535:
        raise InvalidParameter(f"--port must be between 0 and 65535, got {args.port}")
    if args.threads < 1:
        raise InvalidParameter(f"--threads must be at least 1, got {args.threads}")
    if args.max_image_mb <= 0:
        raise InvalidParameter(f"--max-image-mb must be positive, got {args.max_image_mb}")
    limits = Limits(max_image_bytes=int(args.max_image_mb * 1024 * 1024), max_k=args.max_k, default_k=min(10, args.max_k))

    def ready(url: str) -> None:
        print(f"street2shop: serving {args.index} on {url}/  (API: POST {url}/public/api/v1/street2shop/recommend/run; Ctrl-C stops)", flush=True)

    serve_forever(args.index, args.images, args.host, args.port, limits=limits, threads=args.threads, on_ready=ready)
    return 0
