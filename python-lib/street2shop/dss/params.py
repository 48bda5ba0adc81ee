"""The recipes' configs (the dicts DSS hands over) turned into checked, typed parameters; pure, no ``dataiku``.

Read through :mod:`street2shop.dss.config`; the training settings' value types are imported inside
the functions that build them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from street2shop.dss import config as cfg
from street2shop.errors import InvalidParameter
from street2shop.images.decode import DEFAULT_MAX_PIXELS
from street2shop.index.vectors import INDEX_KINDS
from street2shop.models.backbones import BACKBONES
from street2shop.segmentation.params import BACKGROUNDS, SegmentParams

WEIGHT_SOURCES = ("imagenet", "folder", "none")


@dataclass(frozen=True)
class EmbedParams:
    backbone: str = "efficientnet-lite0"  # ImageNet weights packaged with the code env
    weights_source: str = "imagenet"
    image_size: int = 224
    batch_size: int = 32
    index_type: str = "flat"
    max_pixels: int = DEFAULT_MAX_PIXELS
    model_weights: dict[str, float] | None = None
    encoding_layer: str | None = None
    segment: SegmentParams | None = None  # the recipe's 'segment' on: its parameters
    descriptors: int | None = None  # the garment descriptors' input size, when on
    fit_weights: bool = False
    fit_split: str | None = "val"
    fit_objective: str = "mrr"
    fit_synthesised_products: int = 200  # without usable user photos, fit on synthesised photos of this many products


@dataclass(frozen=True)
class EvaluateParams:
    top_k: int = 10
    batch_size: int = 32


def embed_params(config: Mapping[str, Any]) -> EmbedParams:
    """Check the ``street2shop-embed`` recipe's config."""
    return EmbedParams(
        backbone=cfg.choice(config, "backbone", tuple(BACKBONES), EmbedParams.backbone),
        weights_source=cfg.choice(config, "weights_source", WEIGHT_SOURCES, EmbedParams.weights_source),
        image_size=cfg.integer(config, "image_size", EmbedParams.image_size, minimum=32, maximum=1024),
        batch_size=cfg.integer(config, "batch_size", EmbedParams.batch_size, minimum=1, maximum=4096),
        index_type=cfg.choice(config, "index_type", INDEX_KINDS, EmbedParams.index_type),
        max_pixels=cfg.integer(config, "max_pixels", EmbedParams.max_pixels, minimum=1),
        model_weights=cfg.number_map(config, "model_weights") or None,
        encoding_layer=cfg.text(config, "encoding_layer"),
        segment=segment_option(config),
        descriptors=cfg.integer(config, "descriptor_size", 128, minimum=32, maximum=512) if cfg.boolean(config, "descriptors", False) else None,
        fit_weights=cfg.boolean(config, "fit_weights", False),
        fit_split=(cfg.text(config, "fit_split") if "fit_split" in config else "val") or None,
        fit_objective=cfg.choice(config, "fit_objective", ("mrr", "top10"), "mrr"),
        fit_synthesised_products=cfg.integer(
            config, "fit_synthesised_products", EmbedParams.fit_synthesised_products, minimum=2, maximum=100_000
        ),
    )


@dataclass(frozen=True)
class PredictParams:
    """The ``street2shop-predict`` recipe's config."""

    threshold: float | None = None  # multi-label models: None keeps each model's own (0.5)
    products: bool = False
    disagreements: bool = True
    batch_size: int = 32
    max_pixels: int = DEFAULT_MAX_PIXELS
    segment: SegmentParams | None = None


def predict_params(config: Mapping[str, Any]) -> PredictParams:
    """Check the ``street2shop-predict`` recipe's config."""
    return PredictParams(
        threshold=cfg.number(config, "threshold", None, minimum=1e-6, maximum=1.0),  # empty: each model's own
        products=cfg.boolean(config, "products", False),
        disagreements=cfg.boolean(config, "disagreements", True),
        batch_size=cfg.integer(config, "batch_size", PredictParams.batch_size, minimum=1, maximum=4096),
        max_pixels=cfg.integer(config, "max_pixels", PredictParams.max_pixels, minimum=1),
        segment=segment_option(config),
    )


def segment_option(config: Mapping[str, Any]) -> SegmentParams | None:
    """The ``segment`` / ``segment_margin`` params of the embed and train recipes: ``SegmentParams`` or None (off)."""
    if not cfg.boolean(config, "segment", False):
        return None
    return SegmentParams(margin=cfg.number(config, "segment_margin", SegmentParams.margin, minimum=0.0, maximum=1.0))


def evaluate_params(config: Mapping[str, Any]) -> EvaluateParams:
    """Check the ``street2shop-evaluate`` recipe's config."""
    return EvaluateParams(
        top_k=cfg.integer(config, "top_k", EvaluateParams.top_k, minimum=1, maximum=1000),
        batch_size=cfg.integer(config, "batch_size", EvaluateParams.batch_size, minimum=1, maximum=4096),
    )


@dataclass(frozen=True)
class TrainParams:
    """The ``street2shop-train`` recipe's config: the training settings, where the weights come from, a mapping."""

    settings: Any
    weights_source: str = "imagenet"
    mapping: dict[str, str] | None = None
    segment: SegmentParams | None = None  # the recipe's 'segment' on: its parameters


TECHNIQUE_CHOICES = ("auto", "exclude", "keep")


def train_params(config: Mapping[str, Any]) -> TrainParams:
    """Check the ``street2shop-train`` recipe's config (the weights value is set by the recipe)."""
    from street2shop.training.architectures import ARCHITECTURES, Architecture
    from street2shop.training.augment import AugmentParams
    from street2shop.training.balance import MAX_UPSAMPLE
    from street2shop.training.data import CACHE_MODES
    from street2shop.training.job import TrainSettings
    from street2shop.training.trainer import MONITORS, FitParams
    from street2shop.training.transfer import DEFAULT_TRAIN_BACKBONE, start_defaults

    label = cfg.text(config, "label_column")
    if not label:
        raise InvalidParameter("parameter 'label_column': choose the manifest column to learn")
    views_text = cfg.text(config, "views")
    try:
        views = tuple(int(v) for v in views_text.replace(";", ",").split(",") if v.strip()) if views_text else None
    except ValueError as err:
        raise InvalidParameter(f"parameter 'views' must list view numbers like 1,2; got {views_text!r}") from err
    technique = cfg.choice(config, "exclude_camera_technique", TECHNIQUE_CHOICES, "auto")

    fit_defaults, augment_defaults = FitParams(), AugmentParams()
    weights_source = cfg.choice(config, "weights_source", WEIGHT_SOURCES, "imagenet")
    start = start_defaults(weights_source)  # pretrained unless 'none': fine-tuning rates and a warm-up
    learning_rate = cfg.number(config, "learning_rate", start.learning_rate, minimum=1e-12, maximum=1.0)
    if cfg.boolean(config, "augment", True):
        augment = AugmentParams(
            rotation_p=cfg.number(config, "rotation_p", augment_defaults.rotation_p, minimum=0.0, maximum=1.0),
            shift_p=cfg.number(config, "shift_p", augment_defaults.shift_p, minimum=0.0, maximum=1.0),
            flip_p=cfg.number(config, "flip_p", augment_defaults.flip_p, minimum=0.0, maximum=1.0),
            jpeg_p=cfg.number(config, "jpeg_p", augment_defaults.jpeg_p, minimum=0.0, maximum=1.0),
        )
    else:
        augment = AugmentParams.off()
    image_size = cfg.integer(config, "image_size", 0, minimum=0, maximum=1024)
    batch_size = cfg.integer(config, "batch_size", 0, minimum=0, maximum=4096)
    epochs = cfg.integer(config, "epochs", fit_defaults.epochs, minimum=1, maximum=10_000)
    warmup_epochs = cfg.integer(config, "warmup_epochs", None, minimum=0, maximum=10_000)
    settings = TrainSettings(
        label=label,
        multilabel=cfg.boolean(config, "multilabel", False),
        classes=tuple(cfg.strings(config, "classes")) or None,
        min_count=cfg.integer(config, "min_count", 5, minimum=1),
        exclude_classes=tuple(cfg.strings(config, "exclude_classes")),
        exclude_camera_technique=None if technique == "auto" else technique == "exclude",
        views=views,
        validation_share=cfg.number(config, "validation_share", 0.2, minimum=0.01, maximum=0.9),
        use_split_column=cfg.boolean(config, "use_split_column", True),
        balance=cfg.boolean(config, "balance", False),
        max_upsample=cfg.number(config, "max_upsample", MAX_UPSAMPLE, minimum=1.0, maximum=MAX_UPSAMPLE),
        architecture=Architecture(
            name=cfg.choice(config, "backbone", ARCHITECTURES, DEFAULT_TRAIN_BACKBONE),
            image_size=image_size or None,
            encoding_units=cfg.integer(config, "encoding_units", 1000, minimum=1, maximum=100_000),
            width=cfg.integer(config, "width", 32, minimum=1, maximum=1024),
        ),
        fit=FitParams(
            epochs=epochs,
            learning_rate=learning_rate,
            final_learning_rate=min(
                learning_rate, cfg.number(config, "final_learning_rate", start.final_learning_rate, minimum=1e-15, maximum=1.0)
            ),
            patience=cfg.integer(config, "patience", fit_defaults.patience, minimum=1, maximum=10_000),
            monitor=cfg.choice(config, "monitor", MONITORS, fit_defaults.monitor),
            warmup_epochs=min(start.warmup_epochs, epochs - 1) if warmup_epochs is None else warmup_epochs,
        ),
        augment=augment,
        batch_size=batch_size or None,
        seed=cfg.integer(config, "seed", 0, minimum=0),
        cache=cfg.choice(config, "cache", CACHE_MODES, "auto"),
        max_pixels=cfg.integer(config, "max_pixels", DEFAULT_MAX_PIXELS, minimum=1),
        name=cfg.text(config, "model_name"),
    )
    return TrainParams(
        settings=settings,
        weights_source=weights_source,
        mapping={str(k): "" if v is None else str(v) for k, v in cfg.mapping(config, "mapping").items()} or None,
        segment=segment_option(config),
    )


def embedding_params(config: Mapping[str, Any]) -> tuple[Any, str]:
    """The recipe's config -> (``EmbeddingSettings``, weights source); the weights value is set by the recipe."""
    from street2shop.training.architectures import ARCHITECTURES, BDN
    from street2shop.training.embedding_job import EmbeddingSettings
    from street2shop.training.metric import LOSSES, LossParams

    defaults = EmbeddingSettings()
    learning_rate = cfg.number(config, "learning_rate", defaults.learning_rate, minimum=1e-12, maximum=1.0)
    budget = cfg.number(config, "time_budget_s", 0.0, minimum=0.0, maximum=1e7)
    settings = EmbeddingSettings(
        backbone=cfg.choice(config, "backbone", tuple(a for a in ARCHITECTURES if a != BDN), defaults.backbone),
        image_size=cfg.integer(config, "image_size", 0, minimum=0, maximum=1024) or None,
        width=cfg.integer(config, "width", defaults.width, minimum=1, maximum=1024),
        dim=cfg.integer(config, "dim", defaults.dim, minimum=2, maximum=8192),
        loss=LossParams(name=cfg.choice(config, "loss", LOSSES, LOSSES[0])),
        products_per_batch=cfg.integer(config, "products_per_batch", defaults.products_per_batch, minimum=2, maximum=4096),
        views_per_product=cfg.integer(config, "views_per_product", defaults.views_per_product, minimum=2, maximum=16),
        epochs=cfg.integer(config, "epochs", defaults.epochs, minimum=1, maximum=10_000),
        steps_per_epoch=cfg.integer(config, "steps_per_epoch", 0, minimum=0) or None,
        learning_rate=learning_rate,
        final_learning_rate=min(learning_rate, cfg.number(config, "final_learning_rate", defaults.final_learning_rate, minimum=1e-15, maximum=1.0)),
        patience=cfg.integer(config, "patience", defaults.patience, minimum=1, maximum=10_000),
        validation_share=cfg.number(config, "validation_share", defaults.validation_share, minimum=0.01, maximum=0.9),
        use_split_column=cfg.boolean(config, "use_split_column", True),
        use_consumer_photos=cfg.boolean(config, "use_consumer_photos", True),
        seed=cfg.integer(config, "seed", 0, minimum=0),
        name=cfg.text(config, "model_name") or defaults.name,
        time_budget_s=budget or None,
    )
    return settings, cfg.choice(config, "weights_source", WEIGHT_SOURCES, "none")


@dataclass(frozen=True)
class SegmentJobParams:
    margin: float = 0.1
    work_size: int = 256
    iterations: int = 5
    background: str = "white"
    max_pixels: int = DEFAULT_MAX_PIXELS


def segment_params(config: Mapping[str, Any]) -> SegmentJobParams:
    """Check the ``street2shop-segment`` recipe's config."""
    return SegmentJobParams(
        margin=cfg.number(config, "margin", SegmentJobParams.margin, minimum=0.0, maximum=1.0),
        work_size=cfg.integer(config, "work_size", SegmentJobParams.work_size, minimum=64, maximum=2048),
        iterations=cfg.integer(config, "iterations", SegmentJobParams.iterations, minimum=1, maximum=20),
        background=cfg.choice(config, "background", BACKGROUNDS, SegmentJobParams.background),
        max_pixels=cfg.integer(config, "max_pixels", SegmentJobParams.max_pixels, minimum=1),
    )
