"""Double of ``dataiku.code_env_resources``: what a code env's resources init script may call.

Documented behaviour (doc.dataiku.com/dss/latest/python-api/code-envs.html, "Managing the code
environment resources directory environment variables"): the functions may only be called from
a resources init script; ``set_env_path`` takes a path relative to the code env's resources
directory and sets the variable, absolute, in the running script too; the variables are loaded
at runtime by every process using the code env. The double's resources directory is
``$DKU_DOUBLE_ROOT/code-env-resources``; the variables to load are kept in its ``env.json``
(:func:`runtime_env` reads them, as DSS would before starting a recipe or an API node).
"""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

from dataiku._double import context

_VARS_FILE = "env.json"


def resources_dir() -> Path:
    path = context.root() / "code-env-resources"
    path.mkdir(parents=True, exist_ok=True)
    return path


def _load() -> dict[str, str]:
    file = resources_dir() / _VARS_FILE
    return json.loads(file.read_text(encoding="utf-8")) if file.is_file() else {}


def _save(values: dict[str, str]) -> None:
    (resources_dir() / _VARS_FILE).write_text(json.dumps(values, indent=1, sort_keys=True), encoding="utf-8")


def clear_all_env_vars() -> None:
    """Delete every variable a previous run of the script set."""
    for name in _load():
        os.environ.pop(name, None)
    _save({})


def set_env_var(name: str, value: str) -> None:
    values = _load()
    values[name] = str(value)
    _save(values)
    os.environ[name] = str(value)


def set_env_path(name: str, path: str) -> None:
    """Set a variable to a path relative to the resources directory (absolute once loaded)."""
    if os.path.isabs(path):
        raise ValueError(f"set_env_path expects a path relative to the code env resources directory, got {path!r}")
    set_env_var(name, str(resources_dir() / path))


def get_env_var(name: str) -> str | None:
    return _load().get(name)


def delete_env_var(name: str) -> None:
    values = _load()
    values.pop(name, None)
    _save(values)
    os.environ.pop(name, None)


def grant_permissions(path: str) -> None:
    """Make a resources path readable (and its folders traversable) by every user of the code env."""
    for root, dirs, files in os.walk(path):
        os.chmod(root, os.stat(root).st_mode | stat.S_IRGRP | stat.S_IXGRP | stat.S_IROTH | stat.S_IXOTH)
        for name in files:
            file = os.path.join(root, name)
            os.chmod(file, os.stat(file).st_mode | stat.S_IRGRP | stat.S_IROTH)


def runtime_env() -> dict[str, str]:
    """The variables DSS loads into processes that use the code env (not part of DSS's API)."""
    return _load()
