"""Only ``street2shop/dss/`` may import ``dataiku`` or ``dataikuapi``; the rest of python-lib runs without DSS."""

from __future__ import annotations

import ast
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from dss_harness import REPO_ROOT

DSS_MODULES = ("dataiku", "dataikuapi")
ADAPTER = Path("street2shop") / "dss"


def _is_dss_module(name: str | None) -> bool:
    return bool(name) and any(name == m or name.startswith(m + ".") for m in DSS_MODULES)


def dss_imports(path: Path) -> list[tuple[int, str]]:
    """(line, module) of every import of dataiku/dataikuapi, including importlib/__import__ calls."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(node.lineno, a.name) for a in node.names if _is_dss_module(a.name)]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and _is_dss_module(node.module):
            found.append((node.lineno, node.module))
        elif isinstance(node, ast.Call) and node.args and isinstance(node.args[0], ast.Constant):
            func = node.func
            name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", None)
            if name in ("import_module", "__import__") and _is_dss_module(str(node.args[0].value)):
                found.append((node.lineno, str(node.args[0].value)))
    return found


def boundary_violations(lib_root: Path) -> list[str]:
    """Imports of dataiku/dataikuapi outside ``street2shop/dss/`` under a python-lib directory."""
    problems = []
    for path in sorted(lib_root.rglob("*.py")):
        rel = path.relative_to(lib_root)
        if rel.parts[: len(ADAPTER.parts)] == ADAPTER.parts:
            continue
        problems += [f"{rel.as_posix()}:{line}: imports {module}" for line, module in dss_imports(path)]
    return problems


def test_only_the_dss_adapter_imports_dataiku():
    assert boundary_violations(REPO_ROOT / "python-lib") == []


def test_boundary_check_catches_imports_outside_the_adapter(tmp_path):
    pkg = tmp_path / "street2shop"
    (pkg / "dss").mkdir(parents=True)
    (pkg / "dss" / "folders.py").write_text("import dataiku\nfrom dataikuapi import DSSClient\n")
    (pkg / "search.py").write_text("import numpy\ndef f():\n    import dataiku.customrecipe\n")
    (pkg / "serve.py").write_text("from dataikuapi.dss.project import DSSProject\n")
    (pkg / "lazy.py").write_text("import importlib\nmod = importlib.import_module('dataiku')\n")
    (pkg / "clean.py").write_text("import dataikuish\nfrom . import dataiku_names\n")
    assert boundary_violations(tmp_path) == [
        "street2shop/lazy.py:2: imports dataiku",
        "street2shop/search.py:3: imports dataiku.customrecipe",
        "street2shop/serve.py:1: imports dataikuapi.dss.project",
    ]


# The parsers that turn a component's config into checked parameters: checking a config must stay cheap.
PARAMETER_PARSERS = (
    "street2shop.dss.config",
    "street2shop.dss.params",
    "street2shop.dss.serving_params",
    "street2shop.dss.dedup_params",
    "street2shop.dss.scrape_params",
)
HEAVY_MODULES = ("cv2", "tensorflow", "keras")


@pytest.mark.parametrize("module", PARAMETER_PARSERS)
def test_importing_a_parameter_parser_loads_neither_opencv_nor_tensorflow(module):
    code = f"import importlib, json, sys; importlib.import_module({module!r}); print(json.dumps(sorted(sys.modules)))"
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT / "python-lib")}
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=120, check=True)
    loaded = set(json.loads(done.stdout))
    assert [name for name in HEAVY_MODULES if name in loaded] == []
