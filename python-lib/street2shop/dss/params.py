"""Recipe configs (the dicts DSS hands over) turned into checked, typed parameters; pure, no ``dataiku``."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from street2shop.backbones import BACKBONES
from street2shop.errors import InvalidParameter
from street2shop.images import DEFAULT_MAX_PIXELS
from street2shop.vector_index import INDEX_KINDS

WEIGHT_SOURCES = ("imagenet", "folder", "none")


@dataclass(frozen=True)
class EmbedParams:
    backbone: str = "resnet50"
    weights_source: str = "imagenet"
    image_size: int = 224
    batch_size: int = 32
    index_type: str = "flat"
    max_pixels: int = DEFAULT_MAX_PIXELS


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
    )


def evaluate_params(config: Mapping[str, Any]) -> EvaluateParams:
    """Check the ``street2shop-evaluate`` recipe's config."""
    return EvaluateParams(
        top_k=_integer(config, "top_k", EvaluateParams.top_k, minimum=1, maximum=1000),
        batch_size=_integer(config, "batch_size", EvaluateParams.batch_size, minimum=1, maximum=4096),
    )


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
