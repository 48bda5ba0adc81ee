"""``street2shop segment``: cut the garment out of every picture of a manifest (box, then GrabCut)."""

from __future__ import annotations

import argparse
import json
import sys

from street2shop.images.decode import DEFAULT_MAX_PIXELS

NAME = "segment"
HELP = "cut the garment out of each picture: segmented pictures, masks and a boxes table"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--images", required=True, help="folder of pictures, or s3://bucket/prefix")
    parser.add_argument("--manifest", required=True, help="CSV or Parquet manifest with an 'image' column")
    parser.add_argument("--out", required=True, help="output folder (replaced atomically): segmented/, masks/, boxes.csv, errors.csv")
    parser.add_argument("--model", default=None, metavar="DIR", help="folder with a Keras garment-mask model (mask_model.keras); see docs/segmentation.md")
    parser.add_argument("--background", default="white", choices=["white", "transparent"], help="white JPEG (default) or transparent PNG")
    parser.add_argument("--margin", type=float, default=0.1, help="box enlargement per side, as a fraction of its size (default 0.1)")
    parser.add_argument("--work-size", type=int, default=256, help="GrabCut runs on the box's crop downscaled to this side (default 256)")
    parser.add_argument("--iterations", type=int, default=5, help="GrabCut iterations (default 5)")
    parser.add_argument("--workers", type=int, default=2, help="segmenting threads (default 2)")
    parser.add_argument("--max-pixels", type=int, default=DEFAULT_MAX_PIXELS, help="refuse bigger pictures")


def run(args: argparse.Namespace) -> int:
    from pathlib import Path

    from street2shop.segmentation.garment import ERRORS_FILE, segment_images
    from street2shop.segmentation.params import SegmentParams
    from street2shop.storage.stores import ImageSource, LocalOutputDir, open_image_store

    params = SegmentParams(margin=args.margin, work_size=args.work_size, iterations=args.iterations)
    mask_model = None
    if args.model:
        from street2shop.segmentation.mask_model import load_mask_model

        mask_model = load_mask_model(args.model)
    report = segment_images(
        ImageSource(open_image_store(args.images)),
        args.manifest,
        LocalOutputDir(args.out),
        params=params,
        mask_model=mask_model,
        background=args.background,
        max_pixels=args.max_pixels,
        max_workers=args.workers,
    )
    for row in report.errors.head(20).itertuples():
        print(f"row {row.row} ({row.image}): {row.reason}", file=sys.stderr)
    summary = {"out": str(args.out), **report.summary(), "errors_file": str(Path(args.out) / ERRORS_FILE)}
    print(json.dumps(summary))
    return 0
