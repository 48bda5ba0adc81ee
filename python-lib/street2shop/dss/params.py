"""Recipe configs (the dicts DSS hands over) turned into checked, typed parameters; pure, no ``dataiku``."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from street2shop.models.backbones import BACKBONES
from street2shop.errors import InvalidParameter
from street2shop.images.decode import DEFAULT_MAX_PIXELS
from street2shop.segmentation.params import SegmentParams
from street2shop.index.vectors import INDEX_KINDS

WEIGHT_SOURCES = ("imagenet", "folder", "none")


@dataclass(frozen=True)
class EmbedParams:
    backbone: str = "resnet50"
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
        backbone=_choice(config, "backbone", tuple(BACKBONES), EmbedParams.backbone),
        weights_source=_choice(config, "weights_source", WEIGHT_SOURCES, EmbedParams.weights_source),
        image_size=_integer(config, "image_size", EmbedParams.image_size, minimum=32, maximum=1024),
        batch_size=_integer(config, "batch_size", EmbedParams.batch_size, minimum=1, maximum=4096),
        index_type=_choice(config, "index_type", INDEX_KINDS, EmbedParams.index_type),
        max_pixels=_integer(config, "max_pixels", EmbedParams.max_pixels, minimum=1),
        model_weights=_number_map(config, "model_weights") or None,
        encoding_layer=_text(config, "encoding_layer") or None,
        segment=segment_option(config),
        descriptors=_integer(config, "descriptor_size", 128, minimum=32, maximum=512) if _boolean(config, "descriptors", False) else None,
        fit_weights=_boolean(config, "fit_weights", False),
        fit_split=(_text(config, "fit_split") if "fit_split" in config else "val") or None,
        fit_objective=_choice(config, "fit_objective", ("mrr", "top10"), "mrr"),
        fit_synthesised_products=_integer(
            config, "fit_synthesised_products", EmbedParams.fit_synthesised_products, minimum=2, maximum=100_000
        ),
    )


def segment_option(config: Mapping[str, Any]) -> SegmentParams | None:
    """The ``segment`` / ``segment_margin`` params of the embed and train recipes: ``SegmentParams`` or None (off)."""
    if not _boolean(config, "segment", False):
        return None
    return SegmentParams(margin=_number(config, "segment_margin", SegmentParams.margin, minimum=0.0, maximum=1.0))


def evaluate_params(config: Mapping[str, Any]) -> EvaluateParams:
    """Check the ``street2shop-evaluate`` recipe's config."""
    return EvaluateParams(
        top_k=_integer(config, "top_k", EvaluateParams.top_k, minimum=1, maximum=1000),
        batch_size=_integer(config, "batch_size", EvaluateParams.batch_size, minimum=1, maximum=4096),
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

    label = _text(config, "label_column")
    if not label:
        raise InvalidParameter("parameter 'label_column': choose the manifest column to learn")
    views_text = _text(config, "views")
    try:
        views = tuple(int(v) for v in views_text.replace(";", ",").split(",") if v.strip()) if views_text else None
    except ValueError as err:
        raise InvalidParameter(f"parameter 'views' must list view numbers like 1,2; got {views_text!r}") from err
    technique = _choice(config, "exclude_camera_technique", TECHNIQUE_CHOICES, "auto")
    fit_defaults, augment_defaults = FitParams(), AugmentParams()
    learning_rate = _number(config, "learning_rate", fit_defaults.learning_rate, minimum=1e-12, maximum=1.0)
    if _boolean(config, "augment", True):
        augment = AugmentParams(
            rotation_p=_number(config, "rotation_p", augment_defaults.rotation_p, minimum=0.0, maximum=1.0),
            shift_p=_number(config, "shift_p", augment_defaults.shift_p, minimum=0.0, maximum=1.0),
            flip_p=_number(config, "flip_p", augment_defaults.flip_p, minimum=0.0, maximum=1.0),
            jpeg_p=_number(config, "jpeg_p", augment_defaults.jpeg_p, minimum=0.0, maximum=1.0),
        )
    else:
        augment = AugmentParams.off()
    image_size = _integer(config, "image_size", 0, minimum=0, maximum=1024)
    batch_size = _integer(config, "batch_size", 0, minimum=0, maximum=4096)
    settings = TrainSettings(
        label=label,
        multilabel=_boolean(config, "multilabel", False),
        classes=tuple(_strings(config, "classes")) or None,
        min_count=_integer(config, "min_count", 5, minimum=1),
        exclude_classes=tuple(_strings(config, "exclude_classes")),
        exclude_camera_technique=None if technique == "auto" else technique == "exclude",
        views=views,
        validation_share=_number(config, "validation_share", 0.2, minimum=0.01, maximum=0.9),
        use_split_column=_boolean(config, "use_split_column", True),
        balance=_boolean(config, "balance", False),
        max_upsample=_number(config, "max_upsample", MAX_UPSAMPLE, minimum=1.0, maximum=MAX_UPSAMPLE),
        architecture=Architecture(
            name=_choice(config, "backbone", ARCHITECTURES, "resnet50"),
            image_size=image_size or None,
            encoding_units=_integer(config, "encoding_units", 1000, minimum=1, maximum=100_000),
            width=_integer(config, "width", 32, minimum=1, maximum=1024),
        ),
        fit=FitParams(
            epochs=_integer(config, "epochs", fit_defaults.epochs, minimum=1, maximum=10_000),
            learning_rate=learning_rate,
            final_learning_rate=min(
                learning_rate, _number(config, "final_learning_rate", fit_defaults.final_learning_rate, minimum=1e-15, maximum=1.0)
            ),
            patience=_integer(config, "patience", fit_defaults.patience, minimum=1, maximum=10_000),
            monitor=_choice(config, "monitor", MONITORS, fit_defaults.monitor),
            warmup_epochs=_integer(config, "warmup_epochs", 0, minimum=0, maximum=10_000),
        ),
        augment=augment,
        batch_size=batch_size or None,
        seed=_integer(config, "seed", 0, minimum=0),
        cache=_choice(config, "cache", CACHE_MODES, "auto"),
        max_pixels=_integer(config, "max_pixels", DEFAULT_MAX_PIXELS, minimum=1),
        name=_text(config, "model_name") or None,
    )
    return TrainParams(
        settings=settings,
        weights_source=_choice(config, "weights_source", WEIGHT_SOURCES, "imagenet"),
        mapping={str(k): "" if v is None else str(v) for k, v in _map(config, "mapping").items()} or None,
        segment=segment_option(config),
    )


def embedding_params(config: Mapping[str, Any]) -> tuple[Any, str]:
    """The recipe's config -> (``EmbeddingSettings``, weights source); the weights value is set by the recipe."""
    from street2shop.training.architectures import ARCHITECTURES, BDN
    from street2shop.training.embedding_job import EmbeddingSettings
    from street2shop.training.metric import LOSSES, LossParams

    defaults = EmbeddingSettings()
    learning_rate = _number(config, "learning_rate", defaults.learning_rate, minimum=1e-12, maximum=1.0)
    budget = _number(config, "time_budget_s", 0.0, minimum=0.0, maximum=1e7)
    settings = EmbeddingSettings(
        backbone=_choice(config, "backbone", tuple(a for a in ARCHITECTURES if a != BDN), defaults.backbone),
        image_size=_integer(config, "image_size", 0, minimum=0, maximum=1024) or None,
        width=_integer(config, "width", defaults.width, minimum=1, maximum=1024),
        dim=_integer(config, "dim", defaults.dim, minimum=2, maximum=8192),
        loss=LossParams(name=_choice(config, "loss", LOSSES, LOSSES[0])),
        products_per_batch=_integer(config, "products_per_batch", defaults.products_per_batch, minimum=2, maximum=4096),
        views_per_product=_integer(config, "views_per_product", defaults.views_per_product, minimum=2, maximum=16),
        epochs=_integer(config, "epochs", defaults.epochs, minimum=1, maximum=10_000),
        steps_per_epoch=_integer(config, "steps_per_epoch", 0, minimum=0) or None,
        learning_rate=learning_rate,
        final_learning_rate=min(learning_rate, _number(config, "final_learning_rate", defaults.final_learning_rate, minimum=1e-15, maximum=1.0)),
        patience=_integer(config, "patience", defaults.patience, minimum=1, maximum=10_000),
        validation_share=_number(config, "validation_share", defaults.validation_share, minimum=0.01, maximum=0.9),
        use_split_column=_boolean(config, "use_split_column", True),
        use_consumer_photos=_boolean(config, "use_consumer_photos", True),
        seed=_integer(config, "seed", 0, minimum=0),
        name=_text(config, "model_name") or defaults.name,
        time_budget_s=budget or None,
    )
    return settings, _choice(config, "weights_source", WEIGHT_SOURCES, "none")


def _text(config: Mapping[str, Any], name: str) -> str:
    value = config.get(name)
    if value is None:
        return ""
    if not isinstance(value, str):
        raise InvalidParameter(f"parameter {name!r} must be text, got {value!r}")
    return value.strip()


def _boolean(config: Mapping[str, Any], name: str, default: bool) -> bool:
    value = config.get(name)
    if value is None or value == "":
        return default
    if not isinstance(value, bool):
        raise InvalidParameter(f"parameter {name!r} must be true or false, got {value!r}")
    return value


def _number(config: Mapping[str, Any], name: str, default: float, *, minimum: float, maximum: float) -> float:
    value = config.get(name)
    if value is None or value == "":
        return default
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise InvalidParameter(f"parameter {name!r} must be a number, got {value!r}")
    if not minimum <= float(value) <= maximum:
        raise InvalidParameter(f"parameter {name!r} must be between {minimum} and {maximum}, got {value}")
    return float(value)


def _strings(config: Mapping[str, Any], name: str) -> list[str]:
    value = config.get(name)
    if value is None or value == "":
        return []
    if isinstance(value, str):
        value = value.split(",")
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise InvalidParameter(f"parameter {name!r} must be a list of texts, got {value!r}")
    return [v.strip() for v in value if v.strip()]


def _map(config: Mapping[str, Any], name: str) -> dict[str, Any]:
    value = config.get(name)
    if value is None or value == "":
        return {}
    if not isinstance(value, dict):
        raise InvalidParameter(f"parameter {name!r} must be a map of key -> value, got {value!r}")
    return {str(k).strip(): v for k, v in value.items() if str(k).strip()}


def _number_map(config: Mapping[str, Any], name: str) -> dict[str, float]:
    numbers = {}
    for key, value in _map(config, name).items():
        try:
            numbers[key] = float(value)
        except (TypeError, ValueError) as err:
            raise InvalidParameter(f"parameter {name!r}: the weight of {key!r} must be a number, got {value!r}") from err
        if numbers[key] <= 0:
            raise InvalidParameter(f"parameter {name!r}: the weight of {key!r} must be positive, got {value!r}")
    return numbers


def _choice(config: Mapping[str, Any], name: str, choices: tuple[str, ...], default: str) -> str:
    value = config.get(name)
    if value is None or value == "":
        return default
    if str(value) not in choices:
        raise InvalidParameter(f"parameter {name!r}: {value!r} is not one of {', '.join(choices)}")
    return str(value)


def _integer(config: Mapping[str, Any], name: str, default: int, *, minimum: int | None = None, maximum: int | None = None) -> int:
    value = config.get(name)
    if value is None or value == "":
        return default
    # DSS may hand an INT parameter over as a float (e.g. 32.0).
    if isinstance(value, bool) or not isinstance(value, (int, float)) or float(value) != int(value):
        raise InvalidParameter(f"parameter {name!r} must be an integer, got {value!r}")
    number = int(value)
    if minimum is not None and number < minimum or maximum is not None and number > maximum:
        raise InvalidParameter(f"parameter {name!r} must be between {minimum} and {maximum}, got {number}")
    return number


@dataclass(frozen=True)
class SegmentJobParams:
    margin: float = 0.1
    work_size: int = 256
    iterations: int = 5
    background: str = "white"
    max_pixels: int = DEFAULT_MAX_PIXELS


def segment_params(config: Mapping[str, Any]) -> SegmentJobParams:
    """Check the ``street2shop-segment`` recipe's config."""
    margin = config.get("margin", SegmentJobParams.margin)
    if isinstance(margin, bool) or not isinstance(margin, (int, float)) or not 0 <= float(margin) <= 1:
        raise InvalidParameter(f"parameter 'margin' must be a number between 0 and 1, got {margin!r}")
    return SegmentJobParams(
        margin=float(margin),
        work_size=_integer(config, "work_size", SegmentJobParams.work_size, minimum=64, maximum=2048),
        iterations=_integer(config, "iterations", SegmentJobParams.iterations, minimum=1, maximum=20),
        background=_choice(config, "background", ("white", "transparent"), SegmentJobParams.background),
        max_pixels=_integer(config, "max_pixels", SegmentJobParams.max_pixels, minimum=1),
    )
