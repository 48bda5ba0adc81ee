"""Test tiers, so a run can pick one (``pytest -m dss``, ``-m "not slow"``); ``make test`` runs them all.

Tests are laid out like the package (``tests/<package>/``); helpers shared by several packages'
tests live in ``tests/support/`` (on the path through pyproject.toml's ``pythonpath``).
"""

from __future__ import annotations

import functools
import inspect
from pathlib import Path

import pytest

TESTS = Path(__file__).resolve().parent
#: What in a test's source shows it runs plugin components through the DSS double or drives a browser.
DSS_SIGNS = ("DSSProject", "dss_harness", "apinode_emulator", "fake_dataikuapi", "FAKE")
#: Modules whose every test talks to the API-node emulator or the recording dataikuapi fake.
DSS_MODULE_IMPORTS = ("import apinode_emulator", "import fake_dataikuapi")
BROWSER_SIGNS = ("find_browser(",)


def _source(item: pytest.Item) -> str:
    try:
        return inspect.getsource(item.function)  # type: ignore[attr-defined]
    except (AttributeError, OSError, TypeError):
        return ""


@functools.cache
def _module_source(path: Path) -> str:
    return path.read_text(encoding="utf-8") if path.suffix == ".py" else ""


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        path = Path(str(item.fspath)).resolve()
        source = _source(item)
        if (
            path.is_relative_to(TESTS / "dss")
            or any(sign in source for sign in DSS_SIGNS)
            or any(sign in _module_source(path) for sign in DSS_MODULE_IMPORTS)
        ):
            item.add_marker(pytest.mark.dss)
        if any(sign in source for sign in BROWSER_SIGNS):
            item.add_marker(pytest.mark.browser)
