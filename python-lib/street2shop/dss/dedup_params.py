"""The dedup recipe's and check-duplicates step's configs turned into checked parameters; pure, no ``dataiku``.

Read through :mod:`street2shop.dss.config`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from street2shop.dedup.params import (
    DEFAULT_MAX_HAMMING,
    DEFAULT_MIN_COSINE,
    DEFAULT_MIN_THUMB_CORRELATION,
    METHODS,
    DedupParams,
)
from street2shop.dedup.vector_pairs import VectorSearchParams
from street2shop.dedup.verify import VERIFY_MODES, VerifyParams
from street2shop.dss import config as cfg
from street2shop.errors import InvalidParameter
from street2shop.images.decode import DEFAULT_MAX_PIXELS

KEEP_CHOICES = ("most_views", "first_seen", "priority")
HASH_KINDS = ("phash", "dhash")
STRATEGIES = ("auto", "exact", "ivf")
ON_EXCEED = ("fail", "warn")


def dedup_params(config: Mapping[str, Any]) -> DedupParams:
    """Check the ``street2shop-dedup`` recipe's config; the result mirrors the CLI's flags."""
    keep = cfg.choice(config, "keep", KEEP_CHOICES, "most_views")
    if keep == "priority":
        column = cfg.text(config, "priority_column")
        if not column:
            raise InvalidParameter("parameter 'priority_column': the keep policy 'priority' needs a manifest column")
        order = cfg.choice(config, "priority_order", ("max", "min"), "max")
        keep = f"priority:{column}:{order}"
    kinds = tuple(cfg.strings(config, "hash_kinds")) or ("phash",)
    unknown = [kind for kind in kinds if kind not in HASH_KINDS]
    if unknown:
        raise InvalidParameter(f"parameter 'hash_kinds': {', '.join(unknown)} not among {', '.join(HASH_KINDS)}")
    thumb_check = cfg.boolean(config, "thumb_check", True)
    return DedupParams(
        method=cfg.choice(config, "method", METHODS, "auto"),
        min_cosine=cfg.number(config, "min_cosine", DEFAULT_MIN_COSINE, minimum=-1.0, maximum=1.0),
        max_hamming=cfg.integer(config, "max_hamming", DEFAULT_MAX_HAMMING, minimum=0, maximum=64),
        hash_kinds=tuple(dict.fromkeys(kinds)),
        flip=cfg.boolean(config, "flip", True),
        min_thumb_correlation=(
            cfg.number(config, "min_thumb_correlation", DEFAULT_MIN_THUMB_CORRELATION, minimum=-1.0, maximum=1.0)
            if thumb_check else None
        ),
        same_column=cfg.text(config, "same_column"),
        keep=keep,
        search=VectorSearchParams(strategy=cfg.choice(config, "strategy", STRATEGIES, "auto")),
        verify=cfg.choice(config, "verify", VERIFY_MODES, "geometric"),
        verification=VerifyParams(
            neighbours=cfg.integer(config, "neighbours", VerifyParams.neighbours, minimum=1, maximum=1000),
            min_inliers=cfg.integer(config, "min_inliers", VerifyParams.min_inliers, minimum=3, maximum=100_000),
            min_detail_correlation=cfg.number(config, "min_detail_correlation", VerifyParams.min_detail_correlation,
                                           minimum=-1.0, maximum=1.0),
        ),
        max_pixels=cfg.integer(config, "max_pixels", DEFAULT_MAX_PIXELS, minimum=1),
        max_workers=cfg.integer(config, "max_workers", 8, minimum=1, maximum=256),
        report_pairs=cfg.integer(config, "report_pairs", 500, minimum=0, maximum=100_000),
    ).check()


@dataclass(frozen=True)
class CheckDuplicatesParams:
    """The ``street2shop-check-duplicates`` step's settings.

    Attributes:
        dedup_folder: the managed folder the dedup recipe writes its report and summary to.
        max_new_duplicates: more duplicate product pairs than this trip the step.
        on_exceed: ``fail`` (the step fails) or ``warn`` (a warning; the scenario goes on).
        top: pairs listed in the variables.
        variable_prefix: start of the scenario variables' names.
    """

    dedup_folder: str
    max_new_duplicates: int = 0
    on_exceed: str = "fail"
    top: int = 5
    variable_prefix: str = "street2shop_"


def check_duplicates_params(config: Mapping[str, Any]) -> CheckDuplicatesParams:
    """Check the ``street2shop-check-duplicates`` step's config."""
    folder = cfg.text(config, "dedup_folder")
    if not folder:
        raise InvalidParameter("parameter 'dedup_folder': choose the dedup recipe's report folder")
    prefix = cfg.variable_prefix(config, "variable_prefix", "street2shop_")
    return CheckDuplicatesParams(
        dedup_folder=folder,
        max_new_duplicates=cfg.integer(config, "max_new_duplicates", 0, minimum=0),
        on_exceed=cfg.choice(config, "on_exceed", ON_EXCEED, "fail"),
        top=cfg.integer(config, "top", 5, minimum=1, maximum=10),
        variable_prefix=prefix,
    )
