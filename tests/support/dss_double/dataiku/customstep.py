"""Scenario-step API (``dataiku.customstep``): config from DSS's environment variables."""

from __future__ import annotations

import json
import os


def get_step_config() -> dict:
    """The step's parameters (``DKU_PLUGIN_STEP_CONFIG``)."""
    return json.loads(os.getenv("DKU_PLUGIN_STEP_CONFIG"))


def get_plugin_config() -> dict:
    """The plugin-level settings (``DKU_PLUGIN_CONFIG``)."""
    return json.loads(os.getenv("DKU_PLUGIN_CONFIG"))


def get_step_resource() -> str | None:
    """Absolute path of the plugin's ``resource/`` folder."""
    return os.getenv("DKU_CUSTOM_RESOURCE_FOLDER")
