"""Test tiers, so a run can pick one (``pytest -m dss``, ``-m "not slow"``); ``make test`` runs them all.

Tests are laid out like the package (``tests/<package>/``); helpers shared by several packages'
tests live in ``tests/support/`` (on the path through pyproject.toml's ``pythonpath``).
"""

from __future__ import annotations

import inspect
from pathlib import Path

import pytest

TESTS = Path(__file__).resolve().parent
#: What in a test's source shows it runs plugin components through the DSS double or drives a browser.
DSS_SIGNS = ("DSSProject", "dss_harness", "apinode_emulator", "fake_dataikuapi", "FAKE")
BROWSER_SIGNS = ("find_browser(",)


def _source(item: pytest.Item) -> str:
    try:
        return inspect.getsource(item.function)  # type: ignore[attr-defined]
    except (AttributeError, OSError, TypeError):
        return ""


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        path = Path(str(item.fspath)).resolve()
        source = _source(item)
        module_source = Path(path).read_text(encoding="utf-8") if path.suffix == ".py" else ""
        in_dss = path.is_relative_to(TESTS / "dss")
        if in_dss or any(sign in source for sign in DSS_SIGNS) or any(f"import {sign}" in module_source for sign in DSS_SIGNS[2:4]):
            item.add_marker(pytest.mark.dss)
        if any(sign in source for sign in BROWSER_SIGNS):
            item.add_marker(pytest.mark.browser)
