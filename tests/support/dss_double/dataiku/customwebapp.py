"""Webapp-backend API (``dataiku.customwebapp``): config from DSS's environment variables."""

from __future__ import annotations

import json
import os


def get_webapp_config() -> dict:
    """The webapp's parameters (``DKU_CUSTOM_WEBAPP_CONFIG``)."""
    return json.loads(os.getenv("DKU_CUSTOM_WEBAPP_CONFIG"))


def get_plugin_config() -> dict:
    """The plugin-level settings (``DKU_PLUGIN_CONFIG``)."""
    return json.loads(os.getenv("DKU_PLUGIN_CONFIG"))


def get_webapp_resource() -> str | None:
    """Absolute path of the plugin's ``resource/`` folder."""
    return os.getenv("DKU_CUSTOM_RESOURCE_FOLDER")
