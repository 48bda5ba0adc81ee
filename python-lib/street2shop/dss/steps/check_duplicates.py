"""Step street2shop-check-duplicates: the latest dedup output's duplicate count; fails (or warns) above the allowed count.

``main`` reads the dedup recipe's summary and checks it with
:func:`street2shop.dedup.outputs.check_duplicate_count`.
"""

from __future__ import annotations

import logging

import dataiku
from dataiku.customstep import get_step_config
from dataiku.scenario import Scenario

from street2shop.dedup.outputs import check_duplicate_count, read_summary
from street2shop.dss.dedup_params import check_duplicates_params
from street2shop.errors import Street2ShopError

logger = logging.getLogger(__name__)


class TooManyDuplicates(Street2ShopError):
    """The dedup output holds more duplicate pairs than the step allows."""


def main() -> dict[str, str]:
    """Read the latest dedup summary, set the scenario variables, fail or warn above the allowed count."""
    # 1. Read the config and the inputs.
    params = check_duplicates_params(get_step_config() or {})
    summary = read_summary(dataiku.Folder(params.dedup_folder))
    # 2. One library call.
    verdict = check_duplicate_count(
        summary, max_new_duplicates=params.max_new_duplicates, top=params.top, prefix=params.variable_prefix
    )
    # 3. Set the scenario variables; fail (or warn) above the allowed count.
    Scenario().set_scenario_variables(**verdict.variables)
    if verdict.ok:
        logger.info("%s", verdict.message)
    elif params.on_exceed == "warn":
        logger.warning("%s", verdict.message)
    else:
        raise TooManyDuplicates(verdict.message)
    return verdict.variables

