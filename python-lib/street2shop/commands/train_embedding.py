"""``street2shop train-embedding``: train a metric embedding on synthesised street views and write its encoder folder."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from street2shop.images.decode import DEFAULT_MAX_PIXELS

NAME = "train-embedding"
HELP = "train a photo-to-product metric embedding from shop pictures (synthesised street views) and write its model folder"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from street2shop.training.architectures import ARCHITECTURES
    from street2shop.training.embedding_job import EmbeddingSettings
    from street2shop.training.metric import LOSSES

    defaults = EmbeddingSettings()
    parser.add_argument("--images", required=True, help="folder of pictures, or s3://bucket/prefix")
    parser.add_argument("--manifest", required=True, help="CSV or Parquet manifest (image, product_id; optional source, pair_id, split)")
    parser.add_argument("--out", required=True, help="model folder to write (replaced atomically); `embed --models` reads it")
    parser.add_argument("--backbone", default=defaults.backbone, help=f"{', '.join(a for a in ARCHITECTURES if a != 'bdn')} (default small-cnn)")
    parser.add_argument("--weights", default="none", help="imagenet (downloads once), none, or a weights file/folder (default: none)")
    parser.add_argument("--image-size", type=int, default=None, help="input size in pixels (default: 64 for small-cnn, else the backbone's)")
    parser.add_argument("--width", type=int, default=defaults.width, help="small-cnn: filters of the first block")
    parser.add_argument("--dim", type=int, default=defaults.dim, help="embedding dimensions")
    parser.add_argument("--loss", default=LOSSES[0], choices=list(LOSSES), help=f"instance-level loss (default {LOSSES[0]})")
    parser.add_argument("--epochs", type=int, default=defaults.epochs)
    parser.add_argument("--steps-per-epoch", type=int, default=None, help="default: every training product 4 times")
    parser.add_argument("--products-per-batch", type=int, default=defaults.products_per_batch)
    parser.add_argument("--views-per-product", type=int, default=defaults.views_per_product)
    parser.add_argument("--learning-rate", type=float, default=defaults.learning_rate)
    parser.add_argument("--final-learning-rate", type=float, default=defaults.final_learning_rate)
    parser.add_argument("--patience", type=int, default=defaults.patience, help="epochs without a better validation top-10 before stopping")
    parser.add_argument("--time-budget", type=float, default=None, metavar="SECONDS", help="stop after the epoch that passes this much training time")
    parser.add_argument("--validation-share", type=float, default=defaults.validation_share)
    parser.add_argument("--ignore-split-column", action="store_true", help="draw validation products at random even if the manifest has a split column")
    parser.add_argument("--no-consumer-photos", action="store_true", help="do not use labelled consumer photos as positives and backdrops")
    parser.add_argument("--mask-cache", default=None, metavar="DIR", help="keep garment masks here between runs")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--name", default=defaults.name, help="the model's name in an index (default: metric)")
    parser.add_argument("--max-pixels", type=int, default=DEFAULT_MAX_PIXELS, help="refuse bigger pictures")
    parser.add_argument("--errors", default=None, help="CSV of the rows that could not be used (default: OUT-errors.csv)")


def settings_from_args(args: argparse.Namespace):
    """The settings the flags describe."""
    from street2shop.training.embedding_job import EmbeddingSettings
    from street2shop.training.metric import LossParams

    return EmbeddingSettings(
        backbone=args.backbone,
        image_size=args.image_size,
        width=args.width,
        dim=args.dim,
        weights=args.weights,
        loss=LossParams(name=args.loss),
        products_per_batch=args.products_per_batch,
        views_per_product=args.views_per_product,
        epochs=args.epochs,
        steps_per_epoch=args.steps_per_epoch,
        learning_rate=args.learning_rate,
        final_learning_rate=min(args.final_learning_rate, args.learning_rate),
        patience=args.patience,
        validation_share=args.validation_share,
        use_split_column=not args.ignore_split_column,
        use_consumer_photos=not args.no_consumer_photos,
        seed=args.seed,
        max_pixels=args.max_pixels,
        name=args.name,
        time_budget_s=args.time_budget,
    )


def run(args: argparse.Namespace) -> int:
    from street2shop.storage.publish import LocalOutputDir
    from street2shop.training.embedding_job import train_embedding_model

    settings = settings_from_args(args)
    errors_path = Path(args.errors) if args.errors else Path(f"{str(args.out).rstrip('/')}-errors.csv")
    report = train_embedding_model(
        manifest=args.manifest, images=args.images, output=LocalOutputDir(args.out), settings=settings, mask_cache=args.mask_cache
    )
    report.errors.to_csv(errors_path, index=False)
    for row in report.errors.head(20).itertuples():
        print(f"row {row.row} ({row.image}): {row.reason}", file=sys.stderr)
    print(json.dumps({"model": str(args.out), **report.summary, "errors_file": str(errors_path)}))
    return 0
