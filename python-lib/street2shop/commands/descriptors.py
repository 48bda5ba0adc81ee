"""``street2shop descriptors``: write the garment-descriptor encoder (colour, texture, shape; no training) as a model folder."""

from __future__ import annotations

import argparse
import json

NAME = "descriptors"
HELP = "write an encoder folder of garment descriptors (colour, texture, shape; no training) for embed --models"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from street2shop.models.descriptors import DEFAULT_PART_WEIGHTS, DEFAULT_SIZE, PARTS

    parser.add_argument("out", metavar="OUT_DIR", help="encoder folder to write (replaced atomically)")
    parser.add_argument("--size", type=int, default=DEFAULT_SIZE, help=f"input side in pixels, a multiple of 16 (default {DEFAULT_SIZE})")
    parser.add_argument("--parts", nargs="+", default=list(PARTS), choices=list(PARTS), help="which descriptors, in order (default: all)")
    parser.add_argument(
        "--part-weights", nargs="+", type=float, default=None, metavar="W",
        help="one weight per part, in --parts order (default " + ", ".join(f"{p} {w}" for p, w in DEFAULT_PART_WEIGHTS.items()) + ")",
    )
    parser.add_argument("--name", default=None, help="the encoder's name in an index (default: descriptors[-parts])")


def run(args: argparse.Namespace) -> int:
    from street2shop.models.descriptors import descriptor_encoder
    from street2shop.models.encoder import save_encoder
    from street2shop.errors import InvalidParameter
    from street2shop.storage.publish import LocalOutputDir

    weights = None
    if args.part_weights is not None:
        if len(args.part_weights) != len(args.parts):
            raise InvalidParameter(f"--part-weights: {len(args.part_weights)} weight(s) for {len(args.parts)} part(s): give one per part")
        weights = dict(zip(args.parts, args.part_weights))
    encoder = descriptor_encoder(args.size, args.parts, name=args.name, part_weights=weights)
    with LocalOutputDir(args.out).staging() as staging:
        save_encoder(encoder, staging)
    print(json.dumps({
        "encoder": str(args.out), "name": encoder.name, "image_size": encoder.image_size, "dim": encoder.dim,
        "parts": encoder.info["parts"], "part_weights": encoder.info["part_weights"], "fingerprint": encoder.fingerprint,
    }))
    return 0
