"""Where the double finds its state: the storage root and the run spec named by environment variables.

``DKU_DOUBLE_ROOT`` is the directory holding ``projects/<KEY>/...`` and ``dip_home``.
``DKU_DOUBLE_FLOW`` is a JSON file (written by tests/support/dss_harness.py)::

    {
      "projectKey": "TESTPROJ",
      "variables": {...},              # extra resolved variables (on top of the project's)
      "flow": null | {"in": [...], "out": [...]},   # recipe runs only, DSS's FLOW spec
      "flowVariables": {"DKU_DST_day": "2024-01-01", ...},
      "allowDirectAccess": false,       # Folder.get_path()/file_path() raise unless true
      "apiClient": null | "module:factory" | "/path/file.py:factory",
      "dssVersion": "14.0",             # the DSS whose dataiku package the double imitates (API differences)
      "scenario": null | {"stateFile": ..., "triggerType": ..., "triggerParams": ..., "previousStepsOutputs": [...]}
    }

Each ``flow`` item: ``{"role", "type": "DATASET"|"MANAGED_FOLDER", "fullName": "PROJ.x", "smartName": "x",
"boxLabel": <folder name>, "partitions": [...] (inputs), "partition": "..." (outputs), "appendMode": false}``.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

_cache: dict[str, dict] = {}


class DoubleSetupError(RuntimeError):
    """The double was started without the environment the harness provides."""


def root() -> Path:
    """The storage root."""
    value = os.environ.get("DKU_DOUBLE_ROOT")
    if not value:
        raise DoubleSetupError("DKU_DOUBLE_ROOT is not set: run plugin code through tests/support/dss_harness.py")
    return Path(value)


def spec() -> dict[str, Any]:
    """The run spec (cached per file path)."""
    path = os.environ.get("DKU_DOUBLE_FLOW")
    if not path:
        raise DoubleSetupError("DKU_DOUBLE_FLOW is not set: run plugin code through tests/support/dss_harness.py")
    if path not in _cache:
        with open(path, encoding="utf-8") as f:
            _cache[path] = json.load(f)
    return _cache[path]


def flow() -> dict | None:
    """DSS's FLOW spec: present only while running a recipe."""
    return spec().get("flow")


#: The DSS version the double imitates when the run spec names none.
DEFAULT_DSS_VERSION = "14.0"


def dss_version() -> tuple[int, ...]:
    """The imitated DSS version as a tuple (the run spec's ``dssVersion``; 14.0 outside a harness run)."""
    try:
        text = str(spec().get("dssVersion") or DEFAULT_DSS_VERSION)
    except DoubleSetupError:
        text = DEFAULT_DSS_VERSION
    return tuple(int(part) for part in text.split("."))
