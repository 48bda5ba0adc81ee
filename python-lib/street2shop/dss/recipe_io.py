"""Recipe inputs and outputs by role: DSS datasets and managed folders, read and written through streams."""

from __future__ import annotations

import logging
from typing import Any

import dataiku
import pandas as pd
from dataiku.customrecipe import get_input_names_for_role, get_output_names_for_role, get_recipe_config

from street2shop.dss.frames import read_frame
from street2shop.errors import InvalidParameter

logger = logging.getLogger(__name__)


def config() -> dict[str, Any]:
    """The recipe's parameters."""
    return dict(get_recipe_config() or {})


def _single(names: list[str], role: str, kind: str, required: bool) -> str | None:
    if not names:
        if required:
            raise InvalidParameter(f"the recipe needs an {kind} for role {role!r}")
        return None
    if len(names) > 1:
        raise InvalidParameter(f"role {role!r} takes one {kind}, got {len(names)}")
    return names[0]


def input_folder(role: str, *, required: bool = True) -> Any:
    """The managed folder of an input role (None when optional and absent)."""
    name = _single(get_input_names_for_role(role), role, "input", required)
    return dataiku.Folder(name) if name else None


def input_folders(role: str) -> list[Any]:
    """Every managed folder of an input role (an NARY role; empty when none is connected)."""
    return [dataiku.Folder(name) for name in get_input_names_for_role(role)]


def output_folder(role: str, *, required: bool = True) -> Any:
    """The managed folder of an output role."""
    name = _single(get_output_names_for_role(role), role, "output", required)
    return dataiku.Folder(name) if name else None


def input_frame(role: str) -> pd.DataFrame:
    """The input dataset of a role, typed by its DSS schema, empty integer cells as <NA> (the partitions read are DSS's choice)."""
    name = _single(get_input_names_for_role(role), role, "input", True)
    return read_frame(dataiku.Dataset(name))


def optional_frame(role: str) -> pd.DataFrame | None:
    """The dataset of an optional single-input role as a DataFrame, or None when not connected."""
    names = get_input_names_for_role(role)
    if not names:
        return None
    return read_frame(dataiku.Dataset(names[0]))


def write_output_frame(role: str, frame: pd.DataFrame, *, required: bool = True) -> bool:
    """Write a DataFrame (schema included) to the dataset of an output role; False if the role is unused."""
    name = _single(get_output_names_for_role(role), role, "output", required)
    if name is None:
        return False
    dataiku.Dataset(name).write_with_schema(frame)
    logger.info("wrote %d rows to %s", len(frame), name)
    return True
