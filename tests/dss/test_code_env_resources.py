"""The code env's resources init script installs the person model's files where the plugin finds them at runtime."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import zipfile

from dss_harness import REPO_ROOT
from street2shop.segmentation.person_files import ENV_VAR, FILES, installed, person_model_file, person_models_dir

SCRIPT = REPO_ROOT / "code-env" / "python" / "spec" / "resources_init.py"
DOUBLE = REPO_ROOT / "tests" / "support" / "dss_double"


def _wheel(path, data=None):
    """A stand-in for the mediapipe wheel holding the real files (or other bytes), at their paths in the wheel."""
    with zipfile.ZipFile(path, "w") as archive:
        for name, (member, _) in FILES.items():
            if data is None:
                archive.write(person_model_file(name), member)
            else:
                archive.writestr(member, data)
    return path


def _run_script(root, wheel):
    env = {**os.environ, "PYTHONPATH": str(DOUBLE), "DKU_DOUBLE_ROOT": str(root), "STREET2SHOP_MEDIAPIPE_WHEEL": str(wheel)}
    env.pop(ENV_VAR, None)
    return subprocess.run([sys.executable, str(SCRIPT)], env=env, capture_output=True, text=True, timeout=120)


def test_resources_init_installs_the_checked_files_and_sets_the_variable(tmp_path, monkeypatch):
    done = _run_script(tmp_path, _wheel(tmp_path / "mediapipe.whl"))
    assert done.returncode == 0, done.stderr
    variables = json.loads((tmp_path / "code-env-resources" / "env.json").read_text())
    folder = variables[ENV_VAR]
    assert folder.startswith(str(tmp_path / "code-env-resources"))
    assert installed(folder)
    # At runtime DSS loads the variable: the plugin's code finds the files there.
    monkeypatch.setenv(ENV_VAR, folder)
    assert str(person_models_dir()) == folder
    # A second run (a code env update) keeps the files and the variable.
    again = _run_script(tmp_path, tmp_path / "absent.whl")
    assert again.returncode == 0, again.stderr
    assert installed(folder)


def test_resources_init_refuses_a_wheel_with_other_bytes(tmp_path):
    done = _run_script(tmp_path, _wheel(tmp_path / "tampered.whl", b"not the model"))
    assert done.returncode != 0
    assert "SHA-256" in done.stderr
    assert not list((tmp_path / "code-env-resources").rglob("*.tflite"))
