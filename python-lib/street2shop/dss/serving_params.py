"""Configs of the serving components (webapp, macros, steps) turned into checked, typed parameters; pure, no ``dataiku``."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from street2shop.models.backbones import BACKBONES
from street2shop.errors import InvalidParameter
from street2shop.serving.recommend import Limits

_ID = re.compile(r"^[A-Za-z0-9_-]+$")


@dataclass(frozen=True)
class WebappParams:
    index_folder: str
    pictures_folder: str | None
    limits: Limits


@dataclass(frozen=True)
class WeightsParams:
    backbone: str
    folder: str
    base_url: str | None
    checksum: str | None
    timeout_s: float


@dataclass(frozen=True)
class DeployParams:
    service_id: str
    endpoint_id: str
    index_folder: str
    pictures_folder: str | None
    library_folder: str
    code_env: str | None
    limits: Limits
    test_queries: int
    version: str | None
    deploy: bool
    infra_id: str | None
    deployment_id: str | None
    timeout_s: float


@dataclass(frozen=True)
class GateParams:
    index_folder: str
    queries: str
    pictures_folder: str
    k: int
    min_accuracy: float
    variable_prefix: str


@dataclass(frozen=True)
class RefreshParams:
    service_id: str
    endpoint_id: str
    deployment_id: str
    library_folder: str | None
    timeout_s: float
    poll_s: float


def webapp_params(config: Mapping[str, Any]) -> WebappParams:
    """Check the ``street2shop-visual-search`` webapp's config."""
    return WebappParams(
        index_folder=_required(config, "index_folder"),
        pictures_folder=_text(config, "pictures_folder"),
        limits=_limits(config),
    )


def weights_params(config: Mapping[str, Any]) -> WeightsParams:
    """Check the ``street2shop-download-weights`` macro's config."""
    backbone = _text(config, "backbone") or "resnet50"
    if backbone not in BACKBONES:
        raise InvalidParameter(f"parameter 'backbone': {backbone!r} is not one of {', '.join(BACKBONES)}")
    return WeightsParams(
        backbone=backbone,
        folder=_required(config, "folder"),
        base_url=_text(config, "base_url"),
        checksum=_text(config, "checksum"),
        timeout_s=_number(config, "timeout_s", 60.0, minimum=1.0, maximum=3600.0),
    )


def deploy_params(config: Mapping[str, Any]) -> DeployParams:
    """Check the ``street2shop-deploy-api`` macro's config."""
    deploy = bool(config.get("deploy", False))
    infra_id = _text(config, "infra_id")
    deployment_id = _text(config, "deployment_id")
    service_id = _identifier(config, "service_id", "street2shop")
    if deploy and not (infra_id or deployment_id):
        raise InvalidParameter("parameter 'infra_id': needed to deploy (or name an existing deployment in 'deployment_id')")
    version = _text(config, "version")
    if version is not None and not _ID.match(version):
        raise InvalidParameter(f"parameter 'version': {version!r} may only use A-Za-z0-9_-")
    return DeployParams(
        service_id=service_id,
        endpoint_id=_identifier(config, "endpoint_id", "recommend"),
        index_folder=_required(config, "index_folder"),
        pictures_folder=_text(config, "pictures_folder"),
        library_folder=_text(config, "library_folder") or "street2shop_api_lib",
        code_env=_text(config, "code_env"),
        limits=_limits(config),
        test_queries=int(_number(config, "test_queries", 3, minimum=0, maximum=20, integer=True)),
        version=version,
        deploy=deploy,
        infra_id=infra_id,
        deployment_id=deployment_id or (f"{service_id}-on-{infra_id}" if infra_id else None),
        timeout_s=_number(config, "timeout_s", 600.0, minimum=1.0, maximum=7200.0),
    )


def gate_params(config: Mapping[str, Any]) -> GateParams:
    """Check the ``street2shop-quality-gate`` step's config."""
    prefix = _text(config, "variable_prefix") or "street2shop_"
    if not re.match(r"^[A-Za-z_][A-Za-z0-9_.]*$", prefix):
        raise InvalidParameter(f"parameter 'variable_prefix': {prefix!r} is not a valid variable name start")
    return GateParams(
        index_folder=_required(config, "index_folder"),
        queries=_required(config, "queries"),
        pictures_folder=_required(config, "pictures_folder"),
        k=int(_number(config, "k", 10, minimum=1, maximum=1000, integer=True)),
        min_accuracy=_number(config, "min_accuracy", 0.2, minimum=0.0, maximum=1.0),
        variable_prefix=prefix,
    )


def refresh_params(config: Mapping[str, Any]) -> RefreshParams:
    """Check the ``street2shop-refresh-api`` step's config."""
    return RefreshParams(
        service_id=_identifier(config, "service_id", "street2shop"),
        endpoint_id=_identifier(config, "endpoint_id", "recommend"),
        deployment_id=_required(config, "deployment_id"),
        library_folder=_text(config, "library_folder"),
        timeout_s=_number(config, "timeout_s", 600.0, minimum=1.0, maximum=7200.0),
        poll_s=_number(config, "poll_s", 5.0, minimum=0.0, maximum=600.0),
    )


def _limits(config: Mapping[str, Any]) -> Limits:
    max_mb = _number(config, "max_image_mb", 8, minimum=1, maximum=64)
    max_k = int(_number(config, "max_k", 100, minimum=1, maximum=1000, integer=True))
    return Limits(max_image_bytes=int(max_mb * 1024 * 1024), max_k=max_k, default_k=min(10, max_k))


def _text(config: Mapping[str, Any], name: str) -> str | None:
    value = config.get(name)
    if value is None:
        return None
    if not isinstance(value, str):
        raise InvalidParameter(f"parameter {name!r} must be text, got {value!r}")
    return value.strip() or None


def _required(config: Mapping[str, Any], name: str) -> str:
    value = _text(config, name)
    if value is None:
        raise InvalidParameter(f"parameter {name!r} is required")
    return value


def _identifier(config: Mapping[str, Any], name: str, default: str) -> str:
    value = _text(config, name) or default
    if not _ID.match(value):
        raise InvalidParameter(f"parameter {name!r}: {value!r} may only use A-Za-z0-9_-")
    return value


def _number(config: Mapping[str, Any], name: str, default: float, *, minimum: float, maximum: float, integer: bool = False) -> float:
    value = config.get(name)
    if value is None or value == "":
        return default
    # DSS may hand an INT parameter over as a float (e.g. 32.0).
    if isinstance(value, bool) or not isinstance(value, (int, float)) or (integer and float(value) != int(value)):
        raise InvalidParameter(f"parameter {name!r} must be {'an integer' if integer else 'a number'}, got {value!r}")
    if not minimum <= value <= maximum:
        raise InvalidParameter(f"parameter {name!r} must be between {minimum:g} and {maximum:g}, got {value!r}")
    return float(value)
