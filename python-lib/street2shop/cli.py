"""The ``street2shop`` command line: one subcommand per module of ``street2shop.commands``."""

from __future__ import annotations

import argparse
import importlib
import logging
import os
import sys
from collections.abc import Sequence

from street2shop import __version__
from street2shop.errors import Street2ShopError

#: Subcommand modules, in the order ``--help`` lists them. Each defines NAME, HELP,
#: ``add_arguments(parser)`` and ``run(args) -> int``.
COMMAND_MODULES = (
    "demo",
    "make_demo_catalog",
    "train",
    "train_embedding",
    "descriptors",
    "embed",
    "predict",
    "fit_weights",
    "search",
    "evaluate",
    "dedup",
    "segment",
    "scrape",
    "serve",
)


def _available_commands() -> list:
    modules = []
    for name in COMMAND_MODULES:
        try:
            modules.append(importlib.import_module(f"street2shop.commands.{name}"))
        except ModuleNotFoundError as err:
            if err.name != f"street2shop.commands.{name}":
                raise
    return modules


def build_parser() -> argparse.ArgumentParser:
    """The argument parser with every available subcommand."""
    parser = argparse.ArgumentParser(prog="street2shop", description="Photo-to-product search for fashion catalogues.")
    parser.add_argument("--version", action="version", version=f"street2shop {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="log debug messages")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for module in _available_commands():
        sub = subparsers.add_parser(module.NAME, help=module.HELP, description=module.HELP)
        module.add_arguments(sub)
        sub.set_defaults(run=module.run)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; bad input ends with a one-line error on stderr and status 2."""
    # TensorFlow's C++ start-up chatter (CPU features, no CUDA device) is noise on the command line.
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    args = build_parser().parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    logging.getLogger("faiss.loader").setLevel(logging.WARNING)
    try:
        return int(args.run(args) or 0)
    except Street2ShopError as err:
        print(f"street2shop {args.command}: error: {err}", file=sys.stderr)
        return 2
    except FileNotFoundError as err:
        print(f"street2shop {args.command}: error: file not found: {err.filename or err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"street2shop {args.command}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
