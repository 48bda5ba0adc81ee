"""Entry points' common frame: logging for the DSS job log and errors turned into readable messages."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import TypeVar

from street2shop.errors import Street2ShopError

T = TypeVar("T")


class PluginError(Exception):
    """What a recipe, step or macro raises so DSS shows one readable line."""


def run_component(name: str, main: Callable[[], T]) -> T:
    """Run a component's ``main`` with INFO logging; library errors become :class:`PluginError`."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logger = logging.getLogger(f"street2shop.{name}")
    started = time.monotonic()
    logger.info("%s: start", name)
    try:
        result = main()
    except Street2ShopError as err:
        logger.error("%s failed: %s", name, err)
        raise PluginError(f"{name}: {err}") from err
    logger.info("%s: done in %.1f s", name, time.monotonic() - started)
    return result
