"""Recipe-side API (``dataiku.customrecipe``): roles from the flow spec, config from DSS's environment variables."""

from __future__ import annotations

import json
import os

from dataiku.core import flow
from dataiku.core.dataset import Dataset


def _flow() -> dict:
    if flow.FLOW is None:
        raise Exception("Not running inside a recipe: no flow specification is available")
    return flow.FLOW


def _key(full: bool) -> str:
    return "fullName" if full else "smartName"


def get_input_names(full: bool = True) -> list[str]:
    """Names of all recipe inputs ("PROJ.name" unless ``full=False``)."""
    return [x[_key(full)] for x in _flow()["in"]]


def get_output_names(full: bool = True) -> list[str]:
    """Names of all recipe outputs."""
    return [x[_key(full)] for x in _flow()["out"]]


def get_input_names_for_role(role: str, full: bool = True) -> list[str]:
    """Names of the inputs bound to ``role`` (empty list if none)."""
    return [x[_key(full)] for x in _flow()["in"] if x["role"] == role]


def get_output_names_for_role(role: str, full: bool = True) -> list[str]:
    """Names of the outputs bound to ``role`` (empty list if none)."""
    return [x[_key(full)] for x in _flow()["out"] if x["role"] == role]


def get_inputs_as_datasets(role: str | None = None) -> list[Dataset]:
    names = get_input_names() if role is None else get_input_names_for_role(role)
    return [Dataset(n) for n in names]


def get_outputs_as_datasets(role: str | None = None) -> list[Dataset]:
    names = get_output_names() if role is None else get_output_names_for_role(role)
    return [Dataset(n) for n in names]


def get_recipe_config() -> dict:
    """The recipe's parameters (``DKU_CUSTOM_RECIPE_CONFIG``)."""
    return json.loads(os.getenv("DKU_CUSTOM_RECIPE_CONFIG"))


def get_plugin_config() -> dict:
    """The plugin-level settings (``DKU_CUSTOM_RECIPE_PLUGIN_CONFIG``)."""
    return json.loads(os.getenv("DKU_CUSTOM_RECIPE_PLUGIN_CONFIG"))


def get_recipe_resource() -> str | None:
    """Absolute path of the plugin's ``resource/`` folder."""
    return os.getenv("DKU_CUSTOM_RESOURCE_FOLDER")
