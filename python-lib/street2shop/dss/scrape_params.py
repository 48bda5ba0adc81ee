"""The scrape recipe's config turned into crawl settings; pure, no ``dataiku``.

Read through :mod:`street2shop.dss.config`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from street2shop.dss import config as cfg
from street2shop.scraping.settings import CrawlSettings
from street2shop.scraping.site_spec import SiteSpec

DEFAULT_SPEC_PATH = "site-spec.json"


def scrape_settings(config: Mapping[str, Any], spec: SiteSpec) -> CrawlSettings:
    """Crawl settings from the recipe's parameters over the spec's ``politeness`` block.

    Recipe parameters: ``delay_s``, ``parallel_partitions`` (partitions run at once: the site's rate
    is divided between them), ``user_agent``, and the budgets ``max_pages``, ``max_products``,
    ``max_duration_s`` (0 or empty: no limit).

    Raises:
        InvalidParameter: naming the parameter at fault.
    """
    budgets = {
        "max_pages": cfg.integer(config, "max_pages", None, minimum=0) or None,
        "max_products": cfg.integer(config, "max_products", None, minimum=0) or None,
        "max_duration_s": cfg.number(config, "max_duration_s", None, minimum=0) or None,
    }
    settings = CrawlSettings().with_overrides(**spec.politeness).with_overrides(
        delay_s=cfg.number(config, "delay_s", None, minimum=0),
        parallel_crawls=cfg.integer(config, "parallel_partitions", None, minimum=0) or None,
        user_agent=cfg.text(config, "user_agent"),
        **budgets,
    )
    return settings.validated()


def spec_source(config: Mapping[str, Any]) -> tuple[str, str | None]:
    """Where the site spec is: (path in the site spec folder, inline JSON text or None)."""
    return cfg.text(config, "spec_path") or DEFAULT_SPEC_PATH, cfg.text(config, "site_spec_json")
