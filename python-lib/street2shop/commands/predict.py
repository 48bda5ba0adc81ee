"""``street2shop predict``: tag a catalogue's pictures with trained attribute models (one row per picture or product)."""

from __future__ import annotations

import argparse
import io
import json
import sys
from pathlib import Path

from street2shop.images.decode import DEFAULT_MAX_PIXELS

NAME = "predict"
HELP = "tag a catalogue's pictures with trained attribute models; optionally flag the labels that disagree"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from street2shop.commands.embed import add_segment_arguments

    parser.add_argument("--models", required=True, nargs="+", metavar="DIR", help="trained model folders (street2shop train), one per label")
    parser.add_argument("--images", required=True, help="folder of pictures, or s3://bucket/prefix")
    parser.add_argument("--manifest", required=True, help="CSV or Parquet manifest (image, product_id, optional labels and view)")
    parser.add_argument("--out", required=True, help="tags table to write, .csv or .parquet (replaced atomically)")
    parser.add_argument("--threshold", type=float, default=None, metavar="T", help="multi-label models: keep the classes at or above T (default: each model's, 0.5)")
    parser.add_argument("--products", action="store_true", help="one row per product: vote over its views 1 and 2 (all its views when it has neither)")
    parser.add_argument("--disagreements", action="store_true", help="add <label>_manifest and <label>_disagrees for the manifest's own label columns")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--max-pixels", type=int, default=DEFAULT_MAX_PIXELS, help="refuse bigger pictures")
    parser.add_argument("--errors", default=None, help="CSV of the rows that could not be tagged (default: OUT-errors.csv)")
    parser.add_argument("--summary", default=None, help="JSON summary: counts per class and of disagreements (default: OUT-summary.json)")
    add_segment_arguments(parser, "summary (each model is given what it was trained on)")


def _stem(out: Path) -> str:
    return str(out.with_suffix("")) if out.suffix.lower() in (".csv", ".parquet") else str(out)


def run(args: argparse.Namespace) -> int:
    from street2shop.commands.embed import segment_from_args
    from street2shop.errors import InvalidParameter
    from street2shop.storage.publish import write_atomic
    from street2shop.tagging.predict import tag_catalogue

    out = Path(args.out)
    if out.suffix.lower() not in (".csv", ".parquet"):
        raise InvalidParameter(f"--out {args.out}: give a .csv or .parquet file name")
    if args.batch_size < 1:
        raise InvalidParameter(f"--batch-size must be at least 1, got {args.batch_size}")
    segment, mask_model = segment_from_args(args)
    errors_path = Path(args.errors) if args.errors else Path(f"{_stem(out)}-errors.csv")
    summary_path = Path(args.summary) if args.summary else Path(f"{_stem(out)}-summary.json")
    report = tag_catalogue(
        manifest=args.manifest,
        images=args.images,
        models=args.models,
        threshold=args.threshold,
        products=args.products,
        disagreements=args.disagreements,
        segment=segment,
        mask_model=mask_model,
        batch_size=args.batch_size,
        max_pixels=args.max_pixels,
    )
    buffer = io.BytesIO()
    if out.suffix.lower() == ".parquet":
        report.tags.to_parquet(buffer, index=False)
    else:
        report.tags.to_csv(buffer, index=False)
    write_atomic(out, buffer.getvalue())
    write_atomic(errors_path, report.errors.to_csv(index=False).encode())
    write_atomic(summary_path, (json.dumps(report.summary, indent=2) + "\n").encode())
    for row in report.errors.head(20).itertuples():
        print(f"row {row.row} ({row.image}): {row.reason}", file=sys.stderr)
    print(json.dumps({
        "tags": str(out), "rows": report.summary["rows"], "errors": len(report.errors), "errors_file": str(errors_path),
        "summary_file": str(summary_path),
        "disagreements": {c: m["disagreements"] for c, m in report.summary["models"].items() if "disagreements" in m},
    }))
    return 0
