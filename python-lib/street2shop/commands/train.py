"""``street2shop train``: train one attribute model (one label column) and write its model folder."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from street2shop.errors import InvalidParameter
from street2shop.images.decode import DEFAULT_MAX_PIXELS

NAME = "train"
HELP = "train an attribute model on one label column and write its model folder"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from street2shop.commands.embed import add_segment_arguments
    from street2shop.training.architectures import ARCHITECTURES
    from street2shop.training.augment import AugmentParams
    from street2shop.training.balance import MAX_UPSAMPLE
    from street2shop.training.trainer import MONITORS, FitParams
    from street2shop.training.transfer import (
        DEFAULT_TRAIN_BACKBONE, FINE_TUNE_WARMUP_EPOCHS,
    )

    fit, augment = FitParams(), AugmentParams()
    parser.add_argument("--images", required=True, help="folder of pictures, or s3://bucket/prefix")
    parser.add_argument("--manifest", required=True, help="CSV or Parquet manifest (image, product_id, the label column)")
    parser.add_argument("--label", required=True, metavar="COLUMN", help="the label column to learn")
    parser.add_argument("--out", required=True, help="model folder to write (replaced atomically)")
    parser.add_argument("--multilabel", action="store_true", help="several classes per picture ('|'-joined), sigmoid + weighted BCE")
    parser.add_argument("--classes", default=None, help="comma-separated class list (default: the values found)")
    parser.add_argument("--min-count", type=int, default=5, help="drop classes with fewer pictures (default 5)")
    parser.add_argument("--mapping", default=None, metavar="FILE", help="regrouping of fine values: CSV (from,to) or JSON object")
    parser.add_argument("--exclude-classes", default=None, help="comma-separated classes to leave out")
    parser.add_argument(
        "--exclude-camera-technique", default=None, action=argparse.BooleanOptionalAction,
        help="leave out AVA tags describing camera technique (default: on for bdn)",
    )
    parser.add_argument("--views", default=None, help="keep only these view numbers, e.g. 1,2")
    parser.add_argument("--duplicates", default=None, metavar="FILE", help="dedup groups or pairs: duplicates stay on one side of the split")
    parser.add_argument("--validation-share", type=float, default=0.2, help="share of products held out when the manifest has no val split")
    parser.add_argument("--ignore-split-column", action="store_true", help="split at random by product even if the manifest has a split column")
    parser.add_argument("--balance", action="store_true", help=f"up-sample minority classes (at most x{MAX_UPSAMPLE}), down-sample majority ones")
    parser.add_argument("--max-upsample", type=float, default=MAX_UPSAMPLE)
    parser.add_argument(
        "--backbone", default=DEFAULT_TRAIN_BACKBONE,
        help=f"{', '.join(ARCHITECTURES)} (default {DEFAULT_TRAIN_BACKBONE}: starts from its packaged ImageNet weights)",
    )
    parser.add_argument(
        "--weights", default="default",
        help="imagenet (efficientnet-lite0: packaged; resnet50 & co: Keras downloads once), none, or a weights file/folder "
        "(default: imagenet for efficientnet-lite0, none for the others)",
    )
    parser.add_argument("--image-size", type=int, default=None, help="input size in pixels (default: 224, or 96 for small-cnn and bdn)")
    parser.add_argument("--width", type=int, default=32, help="small-cnn: filters of the first block; bdn: filters per pathway")
    parser.add_argument("--encoding-units", type=int, default=1000, help="units of the encoding layer (default 1000)")
    parser.add_argument("--epochs", type=int, default=fit.epochs)
    parser.add_argument("--batch-size", type=int, default=None, help="default 32 on a CPU, 128 on a GPU")
    parser.add_argument(
        "--learning-rate", type=float, default=None,
        help="Adam's initial rate (default: 1e-4 with pretrained --weights, 3e-3 from scratch with --weights none)",
    )
    parser.add_argument("--final-learning-rate", type=float, default=None, help="the rate it decays to (default: 1e-7, or 3e-5 from scratch)")
    parser.add_argument("--patience", type=int, default=fit.patience, help="epochs without a better validation score before stopping")
    parser.add_argument(
        "--monitor", choices=MONITORS, default=fit.monitor,
        help="validation score for early stopping and best weights (auto: accuracy, or PR-AUC for multi-label)",
    )
    parser.add_argument(
        "--warmup-epochs", type=int, default=None,
        help=f"first epochs with the backbone frozen (default: {FINE_TUNE_WARMUP_EPOCHS} from pretrained weights, 0 from scratch)",
    )
    parser.add_argument("--no-augment", action="store_true", help="train without augmentation")
    parser.add_argument("--rotation-p", type=float, default=augment.rotation_p)
    parser.add_argument("--shift-p", type=float, default=augment.shift_p)
    parser.add_argument("--flip-p", type=float, default=augment.flip_p)
    parser.add_argument("--jpeg-p", type=float, default=augment.jpeg_p)
    parser.add_argument("--cache", default="auto", choices=["auto", "memory", "none"], help="keep decoded pictures in memory (auto: if under 1 GiB)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--name", default=None, help="the model's name in an index (default: the label column)")
    parser.add_argument("--max-pixels", type=int, default=DEFAULT_MAX_PIXELS, help="refuse bigger pictures")
    parser.add_argument("--errors", default=None, help="CSV of the rows that could not be used (default: OUT-errors.csv)")
    add_segment_arguments(parser, "model folder (embed warns when it embeds otherwise)")


def _list(text: str | None) -> tuple[str, ...] | None:
    if text is None:
        return None
    return tuple(part.strip() for part in text.split(",") if part.strip())


def settings_from_args(args: argparse.Namespace):
    """The training settings the flags describe."""
    from street2shop.training.architectures import Architecture
    from street2shop.training.augment import AugmentParams
    from street2shop.training.job import TrainSettings
    from street2shop.training.trainer import FitParams
    from street2shop.training.transfer import resolved_train_weights, start_defaults

    weights = resolved_train_weights(args.backbone, args.weights)
    start = start_defaults(weights)
    learning_rate = start.learning_rate if args.learning_rate is None else args.learning_rate
    final_learning_rate = start.final_learning_rate if args.final_learning_rate is None else args.final_learning_rate
    views = None
    if args.views:
        try:
            views = tuple(int(v) for v in _list(args.views) or ())
        except ValueError as err:
            raise InvalidParameter(f"--views {args.views!r}: expected view numbers like 1,2") from err
    augment = AugmentParams.off() if args.no_augment else AugmentParams(
        rotation_p=args.rotation_p, shift_p=args.shift_p, flip_p=args.flip_p, jpeg_p=args.jpeg_p
    )
    return TrainSettings(
        label=args.label,
        multilabel=args.multilabel,
        classes=_list(args.classes),
        min_count=args.min_count,
        exclude_classes=_list(args.exclude_classes) or (),
        exclude_camera_technique=args.exclude_camera_technique,
        views=views,
        validation_share=args.validation_share,
        use_split_column=not args.ignore_split_column,
        balance=args.balance,
        max_upsample=args.max_upsample,
        architecture=Architecture(name=args.backbone, image_size=args.image_size, encoding_units=args.encoding_units, width=args.width),
        weights=weights,
        fit=FitParams(
            epochs=args.epochs,
            learning_rate=learning_rate,
            final_learning_rate=min(final_learning_rate, learning_rate),
            patience=args.patience,
            monitor=args.monitor,
            warmup_epochs=min(start.warmup_epochs, args.epochs - 1) if args.warmup_epochs is None else args.warmup_epochs,
        ),
        augment=augment,
        batch_size=args.batch_size,
        seed=args.seed,
        cache=args.cache,
        max_pixels=args.max_pixels,
        name=args.name,
    )


def run(args: argparse.Namespace) -> int:
    from street2shop.commands.embed import segment_from_args
    from street2shop.segmentation.step import segment_step
    from street2shop.storage.publish import LocalOutputDir
    from street2shop.training.job import train_attribute_model

    settings = settings_from_args(args)
    transform = segment_step(*segment_from_args(args))
    errors_path = Path(args.errors) if args.errors else Path(f"{str(args.out).rstrip('/')}-errors.csv")
    report = train_attribute_model(
        manifest=args.manifest,
        images=args.images,
        output=LocalOutputDir(args.out),
        settings=settings,
        mapping=args.mapping,
        duplicates=args.duplicates,
        transform=transform,
    )
    report.errors.to_csv(errors_path, index=False)
    for row in report.errors.head(20).itertuples():
        print(f"row {row.row} ({row.image}): {row.reason}", file=sys.stderr)
    print(json.dumps({"model": str(args.out), **report.summary, "errors_file": str(errors_path)}))
    return 0
