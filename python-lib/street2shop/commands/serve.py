"""``street2shop serve``: the recommend API (same URL and envelope as the DSS API node), thumbnails and the page."""

from __future__ import annotations

import argparse

from street2shop.errors import InvalidParameter

NAME = "serve"
HELP = "serve an index: the recommend API, the search page and thumbnails (until Ctrl-C)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from street2shop.serving.server import DEFAULT_HOST, DEFAULT_MAX_CONNECTIONS, DEFAULT_PORT, DEFAULT_REQUEST_TIMEOUT_S

    parser.add_argument("--index", required=True, help="index folder built by `street2shop embed`")
    parser.add_argument("--images", default=None, help="the catalogue's image folder, to show product pictures")
    parser.add_argument("--host", default=DEFAULT_HOST, help=f"address to listen on (default {DEFAULT_HOST}: this machine only)")
    parser.add_argument("--port", type=int, default=DEFAULT_PORT, help=f"port (default {DEFAULT_PORT}; 0 picks a free one)")
    parser.add_argument("--threads", type=int, default=8, help="requests served at once (default 8)")
    parser.add_argument("--max-image-mb", type=float, default=8.0, help="largest picture accepted, in MB (default 8)")
    parser.add_argument("--max-k", type=int, default=100, help="most products one request may ask for (default 100)")
    parser.add_argument("--pixel-budget", type=float, default=100.0, metavar="MEGAPIXELS",
                        help="most pixels decoded at once by all requests together, in millions (default 100; docs/serving.md gives the memory)")
    parser.add_argument("--queue-timeout", type=float, default=10.0, metavar="S",
                        help="how long a request waits for the pixel budget before a 503 with Retry-After (default 10)")
    parser.add_argument("--request-timeout", type=float, default=float(DEFAULT_REQUEST_TIMEOUT_S), metavar="S",
                        help=f"seconds a client has to send one request's headers and body (default {DEFAULT_REQUEST_TIMEOUT_S})")
    parser.add_argument("--max-connections", type=int, default=DEFAULT_MAX_CONNECTIONS,
                        help=f"connections held open at once (default {DEFAULT_MAX_CONNECTIONS})")
    parser.add_argument("--no-garments", dest="garments", action="store_false",
                        help="no person model: one answer per picture (default: per garment too when a person is found)")


def run(args: argparse.Namespace) -> int:
    from street2shop.serving.recommend import Limits
    from street2shop.serving.server import serve_forever

    if not 0 <= args.port <= 65535:
        raise InvalidParameter(f"--port must be between 0 and 65535, got {args.port}")
    if args.threads < 1:
        raise InvalidParameter(f"--threads must be at least 1, got {args.threads}")
    if args.max_image_mb <= 0:
        raise InvalidParameter(f"--max-image-mb must be positive, got {args.max_image_mb}")
    for flag, value in (("--pixel-budget", args.pixel_budget), ("--queue-timeout", args.queue_timeout), ("--request-timeout", args.request_timeout)):
        if not value > 0:
            raise InvalidParameter(f"{flag} must be positive, got {value}")
    if not 10 <= args.max_connections <= 10_000:
        raise InvalidParameter(f"--max-connections must be between 10 and 10000, got {args.max_connections}")
    limits = Limits(
        max_image_bytes=int(args.max_image_mb * 1024 * 1024), max_k=args.max_k, default_k=min(10, args.max_k),
        pixel_budget=max(1, int(args.pixel_budget * 1_000_000)), queue_ms=max(1, int(args.queue_timeout * 1000)),
    )

    def ready(url: str) -> None:
        print(f"street2shop: serving {args.index} on {url}/  (API: POST {url}/public/api/v1/street2shop/recommend/run; Ctrl-C stops)", flush=True)

    serve_forever(args.index, args.images, args.host, args.port, limits=limits, threads=args.threads, on_ready=ready,
                  request_timeout_s=args.request_timeout, max_connections=args.max_connections, garments=args.garments)
    return 0
