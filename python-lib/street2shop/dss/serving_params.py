"""Configs of the serving components (webapp, macros, steps) turned into checked, typed parameters; pure, no ``dataiku``.

Read through :mod:`street2shop.dss.config`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from street2shop.dss import config as cfg
from street2shop.errors import InvalidParameter
from street2shop.models.backbones import BACKBONES
from street2shop.serving.recommend import Limits


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
        index_folder=cfg.required(config, "index_folder"),
        pictures_folder=cfg.text(config, "pictures_folder"),
        limits=_limits(config),
    )


def weights_params(config: Mapping[str, Any]) -> WeightsParams:
    """Check the ``street2shop-download-weights`` macro's config."""
    backbone = cfg.text(config, "backbone") or "resnet50"
    if backbone not in BACKBONES:
        raise InvalidParameter(f"parameter 'backbone': {backbone!r} is not one of {', '.join(BACKBONES)}")
    return WeightsParams(
        backbone=backbone,
        folder=cfg.required(config, "folder"),
        base_url=cfg.text(config, "base_url"),
        checksum=cfg.text(config, "checksum"),
        timeout_s=cfg.number(config, "timeout_s", 60.0, minimum=1.0, maximum=3600.0),
    )


def deploy_params(config: Mapping[str, Any]) -> DeployParams:
    """Check the ``street2shop-deploy-api`` macro's config."""
    deploy = bool(config.get("deploy", False))
    infra_id = cfg.text(config, "infra_id")
    deployment_id = cfg.text(config, "deployment_id")
    service_id = cfg.identifier(config, "service_id", "street2shop")
    if deploy and not (infra_id or deployment_id):
        raise InvalidParameter("parameter 'infra_id': needed to deploy (or name an existing deployment in 'deployment_id')")
    version = cfg.identifier(config, "version", None)
    return DeployParams(
        service_id=service_id,
        endpoint_id=cfg.identifier(config, "endpoint_id", "recommend"),
        index_folder=cfg.required(config, "index_folder"),
        pictures_folder=cfg.text(config, "pictures_folder"),
        library_folder=cfg.text(config, "library_folder") or "street2shop_api_lib",
        code_env=cfg.text(config, "code_env"),
        limits=_limits(config),
        test_queries=cfg.integer(config, "test_queries", 3, minimum=0, maximum=20),
        version=version,
        deploy=deploy,
        infra_id=infra_id,
        deployment_id=deployment_id or (f"{service_id}-on-{infra_id}" if infra_id else None),
        timeout_s=cfg.number(config, "timeout_s", 600.0, minimum=1.0, maximum=7200.0),
    )


def gate_params(config: Mapping[str, Any]) -> GateParams:
    """Check the ``street2shop-quality-gate`` step's config."""
    prefix = cfg.variable_prefix(config, "variable_prefix", "street2shop_")
    return GateParams(
        index_folder=cfg.required(config, "index_folder"),
        queries=cfg.required(config, "queries"),
        pictures_folder=cfg.required(config, "pictures_folder"),
        k=cfg.integer(config, "k", 10, minimum=1, maximum=1000),
        min_accuracy=cfg.number(config, "min_accuracy", 0.2, minimum=0.0, maximum=1.0),
        variable_prefix=prefix,
    )


def refresh_params(config: Mapping[str, Any]) -> RefreshParams:
    """Check the ``street2shop-refresh-api`` step's config."""
    return RefreshParams(
        service_id=cfg.identifier(config, "service_id", "street2shop"),
        endpoint_id=cfg.identifier(config, "endpoint_id", "recommend"),
        deployment_id=cfg.required(config, "deployment_id"),
        library_folder=cfg.text(config, "library_folder"),
        timeout_s=cfg.number(config, "timeout_s", 600.0, minimum=1.0, maximum=7200.0),
        poll_s=cfg.number(config, "poll_s", 5.0, minimum=0.0, maximum=600.0),
    )


def _limits(config: Mapping[str, Any]) -> Limits:
    max_mb = cfg.number(config, "max_image_mb", 8, minimum=1, maximum=64)
    max_k = cfg.integer(config, "max_k", 100, minimum=1, maximum=1000)
    return Limits(max_image_bytes=int(max_mb * 1024 * 1024), max_k=max_k, default_k=min(10, max_k))
