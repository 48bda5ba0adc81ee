"""Where the plugin's own files are (its root, the endpoint's code, the code env's requirements), for the serving components."""

from __future__ import annotations

from pathlib import Path

import dataiku

from street2shop.errors import StorageError
from street2shop.serving import deploy

PLUGIN_ID = "street2shop"


def plugin_root() -> Path:
    """The plugin's root folder: the one this package runs from, else ``DIP_HOME/plugins/{dev,installed}/street2shop``."""
    here = Path(__file__).resolve().parents[3]
    if (here / "plugin.json").is_file() and (here / "python-lib" / "street2shop").is_dir():
        return here
    dip_home = Path(dataiku.get_custom_variables()["dip.home"])
    for kind in ("dev", "installed"):
        candidate = dip_home / "plugins" / kind / PLUGIN_ID
        if (candidate / "plugin.json").is_file():
            return candidate
    raise StorageError(f"cannot find the {PLUGIN_ID} plugin's files (looked in {here} and {dip_home}/plugins)")


def endpoint_code(root: Path) -> str:
    """The endpoint's code (``resource/api/recommend_endpoint.py``)."""
    return (root / "resource" / deploy.ENDPOINT_CODE_RESOURCE).read_text(encoding="utf-8")


def plugin_requirements(root: Path) -> list[str]:
    """The plugin code env's requirement lines."""
    return (root / "code-env" / "python" / "spec" / "requirements.txt").read_text(encoding="utf-8").splitlines()
