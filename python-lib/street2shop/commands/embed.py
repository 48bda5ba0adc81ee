"""``street2shop embed``: build an index folder from a manifest and its images."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from street2shop.images.decode import DEFAULT_MAX_PIXELS

NAME = "embed"
HELP = "embed a catalogue's pictures and build its index folder"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--images", required=True, help="folder of pictures, or s3://bucket/prefix")
    parser.add_argument("--manifest", required=True, help="CSV or Parquet manifest (image, product_id, labels...)")
    parser.add_argument("--out", required=True, help="index folder to write (replaced atomically)")
    parser.add_argument("--models", nargs="+", default=None, metavar="DIR", help="trained model folders (or encoder folders) to use instead of a backbone")
    parser.add_argument("--model-weights", nargs="+", type=float, default=None, metavar="W", help="one weight per model (default 1 each)")
    parser.add_argument("--encoding-layer", default=None, help="trained models: the layer whose output is the encoding (default: encoding, 1000 units)")
    parser.add_argument(
        "--backbone", default="efficientnet-lite0",
        help="efficientnet-lite0 (default: ImageNet weights packaged, nothing downloaded), resnet50, mobilenetv3small or efficientnetb0",
    )
    parser.add_argument(
        "--weights", default="default",
        help="imagenet (resnet50 & co: Keras downloads once), none, or a weights file/folder "
        "(default: imagenet for efficientnet-lite0, none for the others)",
    )
    parser.add_argument("--image-size", type=int, default=None, help="model input size in pixels (default: the backbone's)")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--index-type", default="flat", choices=["flat", "ivf", "hnsw"])
    parser.add_argument("--max-pixels", type=int, default=DEFAULT_MAX_PIXELS, help="refuse bigger pictures")
    parser.add_argument("--errors", default=None, help="CSV of the rows that could not be indexed (default: OUT-errors.csv)")
    add_segment_arguments(parser, "index (search and serving then segment queries the same way)")
    parser.add_argument(
        "--descriptors", type=int, nargs="?", const=128, default=None, metavar="SIZE",
        help="add the garment descriptors (colour, texture, shape; no weights) as a part, at SIZE px (default 128)",
    )
    parser.add_argument(
        "--fit-weights", default=None, metavar="QUERIES",
        help="user photos with pair_id (CSV/Parquet, pictures under --images): fit the parts' weights on them and index with those",
    )
    parser.add_argument("--fit-split", default="val", help="with --fit-weights: only queries of this split ('' for all; default val)")
    parser.add_argument("--fit-objective", default="mrr", choices=["mrr", "top10"], help="what the fitted weights maximise")
    parser.add_argument(
        "--fit-synthesised", type=int, nargs="?", const=200, default=None, metavar="N",
        help="fit the parts' weights on synthesised user photos of up to N catalogue products (default 200) "
        "when no --fit-weights is given or it has no usable photo",
    )


def add_segment_arguments(parser: argparse.ArgumentParser, what: str) -> None:
    """The ``segment`` option's flags (``embed`` and ``train``)."""
    parser.add_argument("--segment", action="store_true", help=f"cut the garment out of each picture before encoding it; recorded in the {what}")
    parser.add_argument("--segment-margin", type=float, default=None, metavar="F", help="with --segment: box enlargement per side, as a fraction of its size (default 0.1)")
    parser.add_argument("--mask-model", default=None, metavar="DIR", help="with --segment: folder with a Keras garment-mask model (docs/segmentation.md)")


def segment_from_args(args: argparse.Namespace):
    """``(SegmentParams or None, mask model folder or None)`` from the ``segment`` flags."""
    from street2shop.errors import InvalidParameter
    from street2shop.segmentation.params import SegmentParams

    if not args.segment:
        for flag, value in (("--segment-margin", args.segment_margin), ("--mask-model", args.mask_model)):
            if value is not None:
                raise InvalidParameter(f"{flag} is used only with --segment")
        return None, None
    params = SegmentParams() if args.segment_margin is None else SegmentParams(margin=args.segment_margin)
    return params, args.mask_model


def run(args: argparse.Namespace) -> int:
    from street2shop.index.build import embed_catalogue
    from street2shop.storage.publish import LocalOutputDir

    segment, mask_model = segment_from_args(args)
    errors_path = Path(args.errors) if args.errors else Path(f"{str(args.out).rstrip('/')}-errors.csv")
    report = embed_catalogue(
        manifest=args.manifest,
        images=args.images,
        output=LocalOutputDir(args.out),
        models=args.models,
        model_weights=args.model_weights,
        encoding_layer=args.encoding_layer,
        backbone=args.backbone,
        weights=args.weights,
        image_size=args.image_size,
        batch_size=args.batch_size,
        index_type=args.index_type,
        max_pixels=args.max_pixels,
        segment=segment,
        mask_model=mask_model,
        descriptors=args.descriptors,
        fit_queries=args.fit_weights,
        fit_split=args.fit_split or None,
        fit_objective=args.fit_objective,
        fit_synthesised=args.fit_synthesised,
    )
    report.errors.to_csv(errors_path, index=False)
    for row in report.errors.head(20).itertuples():
        print(f"row {row.row} ({row.image}): {row.reason}", file=sys.stderr)
    summary = {"index": str(args.out), "indexed": report.indexed, "errors": len(report.errors), "errors_file": str(errors_path)}
    fusion = report.info.get("fusion")
    weights = {part["name"]: part["weight"] for part in report.info["layout"]}
    print(json.dumps({
        **summary, "segment": segment is not None, "weights": weights, "fitted_on": (fusion or {}).get("validation", {}).get("queries"),
        "fit_pairs": (fusion or {}).get("pairs"),
    }))
    return 0
