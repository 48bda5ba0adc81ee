"""Recipe inputs that are model folders (downloaded to local paths), the weights source, the embed recipe's fitting photos."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import pandas as pd

from street2shop.dss.recipe_io import optional_frame
from street2shop.errors import InvalidParameter
from street2shop.storage.published import open_published

logger = logging.getLogger(__name__)


def materialize_folders(folders: list[Any], directory: str | Path) -> list[Path]:
    """Download each folder's current version into its own sub-directory; returns their paths in order."""
    paths = []
    for number, folder in enumerate(folders, start=1):
        target = Path(directory) / f"model-{number}"
        target.mkdir(parents=True, exist_ok=True)
        paths.append(Path(open_published(folder).materialize(target)))
        logger.info("model folder %d downloaded to %s", number, target)
    return paths


def fit_queries(wanted: bool) -> pd.DataFrame | None:
    """The embed recipe's optional user photos for fitting part weights, when 'Fit part weights' is on.

    None when the option is off or no such dataset is connected (the recipe then fits on
    synthesised user photos, and says so in the log).
    """
    frame = optional_frame("queries")
    if wanted and frame is None:
        logger.info("'Fit part weights' is on and no 'User photos for fitting weights' dataset is connected: fitting on synthesised user photos")
    if not wanted and frame is not None:
        logger.warning("a 'User photos for fitting weights' dataset is connected but 'Fit part weights' is off: it is not used")
    return frame if wanted else None


def materialize_optional(folder: Any, directory: str | Path) -> Path | None:
    """An optional input folder's current version, downloaded into ``directory`` (None when not connected)."""
    return Path(open_published(folder).materialize(directory)) if folder is not None else None


def local_weights(source: str, folder: Any, directory: str | Path) -> str:
    """The 'Weights' param as the library takes it: ``folder`` becomes the connected folder, downloaded.

    Raises:
        InvalidParameter: 'From the weights folder' is chosen but no weights folder is connected.
    """
    if source != "folder":
        return source
    if folder is None:
        raise InvalidParameter("'Weights' is 'From the weights folder' but no weights folder is connected")
    return str(materialize_optional(folder, directory))
