"""Test double of the DSS-internal ``dataiku`` package, backed by local files (see ``_double/context.py``).

Only the documented surface used by plugins is implemented, with DSS's names, defaults and errors.
"""

from __future__ import annotations

import importlib
import importlib.util
import json
from typing import Any

from dataiku._double import context, storage
from dataiku.core import default_project_key
from dataiku.core.dataset import Dataset, DatasetWriter
from dataiku.core.managed_folder import Folder

__all__ = ["Dataset", "DatasetWriter", "Folder", "Project", "api_client", "default_project_key",
           "dku_flow_variables", "get_custom_variables", "get_flow_variables"]


def _load_flow_variables() -> dict | None:
    try:
        if context.flow() is None:
            return None
        return dict(context.spec().get("flowVariables") or {})
    except context.DoubleSetupError:
        return None


# The partition variables of the running recipe (DKU_DST_*, DKU_SRC_*). DSS 9.0.5 (dataiku/__init__.py)
# defines this deprecated attribute only when DKUFLOW_VARIABLES is set, i.e. in a recipe.
_flow_variables = _load_flow_variables()
if _flow_variables is not None:
    dku_flow_variables = _flow_variables


def get_flow_variables() -> dict | None:
    """The flow (partition) variables of the running recipe; None outside a recipe, as in DSS 9.0.5."""
    return None if _flow_variables is None else dict(_flow_variables)


def _as_text(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value)


def get_custom_variables(project_key: str | None = None, typed: bool = False) -> dict:
    """Resolved variables: the project's, the run's, ``projectKey`` and ``dip.home``.

    With ``typed=False`` (the default, as in DSS) every value is a string.
    """
    key = project_key or default_project_key()
    root = context.root()
    project_vars = storage.project_variables(root, key)
    resolved: dict = {}
    resolved.update(project_vars.get("standard", {}))
    resolved.update(project_vars.get("local", {}))
    if key == default_project_key():
        resolved.update(context.spec().get("variables") or {})
    resolved["projectKey"] = key
    resolved["dip.home"] = str(storage.dip_home(root))
    if not typed:
        resolved = {k: _as_text(v) for k, v in resolved.items()}
    return resolved


_client: Any = None


def _load_factory(ref: str):
    target, _, attr = ref.partition(":")
    if not attr:
        raise ValueError(f"apiClient must look like 'module:callable' or '/path/file.py:callable', got {ref!r}")
    if target.endswith(".py"):
        spec = importlib.util.spec_from_file_location("_dss_double_api_client_factory", target)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
    else:
        module = importlib.import_module(target)
    return getattr(module, attr)


def api_client() -> Any:
    """The public-API client of the running user; in the double, the object the test injected."""
    global _client
    if _client is None:
        ref = context.spec().get("apiClient")
        if not ref:
            raise Exception("No DSS API client is available in the DSS test double: pass api_client='module:factory' "
                            "to the harness to inject a fake one")
        _client = _load_factory(ref)()
    return _client


class Project:
    """Minimal handle on the current project (its variables)."""

    def __init__(self, project_key: str | None = None):
        self.project_key = project_key or default_project_key()

    def get_variables(self) -> dict:
        """``{"standard": {...}, "local": {...}}``."""
        return storage.project_variables(context.root(), self.project_key)

    def set_variables(self, variables: dict) -> None:
        """Replaces the project variables (same shape as ``get_variables``)."""
        storage.set_project_variables(context.root(), self.project_key, variables)
