"""The person model's files: MediaPipe's pose TFLite models, taken from its wheel at set-up time and checked.

Nothing here downloads during a run: :func:`person_model_file` only finds and checks a file that
set-up put in place (``make person-models``, or the DSS code env's resources init script, both
calling :func:`install_person_models`). Pure standard library, so set-up needs nothing else.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

from street2shop.errors import InvalidParameter

#: The mediapipe release whose wheel holds the files (0.10.14 holds the same bytes; 0.10.30 and later hold none).
MEDIAPIPE_VERSION = "0.10.21"
#: The wheel's tags (CPython 3.11, manylinux x86_64): the files are the same in every platform's wheel.
WHEEL_PLATFORM = "manylinux_2_28_x86_64"
WHEEL_PYTHON = "311"
#: The files used, by short name: their path inside the wheel and their SHA-256.
FILES = {
    "pose_detection": (
        "mediapipe/modules/pose_detection/pose_detection.tflite",
        "9ba9dd3d42efaaba86b4ff0122b06f29c4122e756b329d89dca1e297fd8f866c",
    ),
    "pose_landmark_full": (
        "mediapipe/modules/pose_landmark/pose_landmark_full.tflite",
        "e9a5c5cb17f736fafd4c2ec1da3b3d331d6edbe8a0d32395855aeb2cdfd64b9f",
    ),
}
#: The environment variable naming the folder of the files (the DSS resources init script sets it).
ENV_VAR = "STREET2SHOP_PERSON_MODELS"
#: What to run when the files are missing.
SETUP_COMMAND = "make person-models (or: python -m street2shop.segmentation.person_files)"


class PersonModelMissing(InvalidParameter):
    """The person model's files are not installed, or not the expected ones."""


def person_models_dir() -> Path:
    """Where the files are: ``$STREET2SHOP_PERSON_MODELS``, else ``<python prefix>/share/street2shop/person-models``."""
    configured = os.environ.get(ENV_VAR)
    if configured:
        return Path(configured)
    return Path(sys.prefix) / "share" / "street2shop" / "person-models"


def person_model_file(name: str, directory: str | os.PathLike[str] | None = None) -> Path:
    """The path of one installed file, its SHA-256 checked.

    Raises:
        PersonModelMissing: the file is absent or its digest is not the expected one; the message
            names the set-up command.
    """
    if name not in FILES:
        raise InvalidParameter(f"unknown person model file {name!r}; expected one of {', '.join(FILES)}")
    folder = Path(directory) if directory is not None else person_models_dir()
    path = folder / Path(FILES[name][0]).name
    if not path.is_file():
        raise PersonModelMissing(f"the person model file {path} is missing; install it with {SETUP_COMMAND}")
    digest = sha256(path)
    if digest != FILES[name][1]:
        raise PersonModelMissing(
            f"{path} has SHA-256 {digest[:12]}…, expected {FILES[name][1][:12]}… (mediapipe {MEDIAPIPE_VERSION}); "
            f"reinstall it with {SETUP_COMMAND}"
        )
    return path


def extract_person_models(wheel: str | os.PathLike[str], directory: str | os.PathLike[str]) -> list[Path]:
    """Copy the used files out of a mediapipe wheel into ``directory``, each checked before it is moved in place.

    Raises:
        PersonModelMissing: the wheel lacks a file or holds other bytes than expected.
    """
    target = Path(directory)
    target.mkdir(parents=True, exist_ok=True)
    written = []
    with zipfile.ZipFile(wheel) as archive:
        members = set(archive.namelist())
        for member, expected in FILES.values():
            if member not in members:
                raise PersonModelMissing(f"{wheel} has no {member}; use mediapipe {MEDIAPIPE_VERSION}")
            data = archive.read(member)
            digest = hashlib.sha256(data).hexdigest()
            if digest != expected:
                raise PersonModelMissing(f"{wheel}: {member} has SHA-256 {digest[:12]}…, expected {expected[:12]}…")
            path = target / Path(member).name
            partial = path.with_name(path.name + ".partial")
            partial.write_bytes(data)
            os.replace(partial, path)  # a half-written file never takes the place of a good one
            written.append(path)
    return written


def download_wheel(folder: str | os.PathLike[str]) -> Path:
    """``pip download`` the mediapipe wheel (no dependencies) into ``folder``; returns its path."""
    command = [
        sys.executable, "-m", "pip", "download", f"mediapipe=={MEDIAPIPE_VERSION}", "--no-deps",
        "--only-binary=:all:", "--platform", WHEEL_PLATFORM, "--python-version", WHEEL_PYTHON,
        "--implementation", "cp", "--abi", f"cp{WHEEL_PYTHON}", "--dest", str(folder), "--quiet",
    ]
    subprocess.run(command, check=True)
    wheels = sorted(Path(folder).glob(f"mediapipe-{MEDIAPIPE_VERSION}-*.whl"))
    if not wheels:
        raise PersonModelMissing(f"pip download left no mediapipe {MEDIAPIPE_VERSION} wheel in {folder}")
    return wheels[0]


def installed(directory: str | os.PathLike[str] | None = None) -> bool:
    """Whether every file is in place with its expected digest."""
    try:
        for name in FILES:
            person_model_file(name, directory)
    except PersonModelMissing:
        return False
    return True


def install_person_models(directory: str | os.PathLike[str] | None = None, *, wheel: str | os.PathLike[str] | None = None) -> Path:
    """Put the files in ``directory`` (default :func:`person_models_dir`) unless they are already there.

    Args:
        wheel: a mediapipe wheel already on disk; without it the wheel is downloaded with pip.
    """
    target = Path(directory) if directory is not None else person_models_dir()
    if installed(target):
        return target
    if wheel is not None:
        extract_person_models(wheel, target)
    else:
        with tempfile.TemporaryDirectory(prefix="street2shop-mediapipe-") as scratch:
            extract_person_models(download_wheel(scratch), target)
    return target


def sha256(path: str | os.PathLike[str]) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as stream:
        for chunk in iter(lambda: stream.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def main(argv: list[str] | None = None) -> int:
    """Set-up command: install the files (``python -m street2shop.segmentation.person_files [DIR] [--wheel W]``)."""
    parser = argparse.ArgumentParser(description="Install the person model's files from the mediapipe wheel.")
    parser.add_argument("directory", nargs="?", help=f"target folder (default ${ENV_VAR} or {person_models_dir()})")
    parser.add_argument("--wheel", help="a mediapipe wheel already downloaded")
    args = parser.parse_args(argv)
    try:
        target = install_person_models(args.directory, wheel=args.wheel)
    except (PersonModelMissing, subprocess.CalledProcessError, zipfile.BadZipFile, OSError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    print(f"person model files in {target}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
