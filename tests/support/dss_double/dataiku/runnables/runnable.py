"""The base class a macro's ``runnable.py`` subclasses."""

from __future__ import annotations

from typing import Any, Callable


class Runnable:
    """A macro: built with (project_key, config, plugin_config), then ``run(progress_callback)``."""

    def __init__(self, project_key: str, config: dict, plugin_config: dict):
        self.project_key = project_key
        self.config = config
        self.plugin_config = plugin_config

    def get_progress_target(self) -> tuple | None:
        """``(target, unit)`` with unit SIZE, FILES, RECORDS or NONE, or None for no progress reporting."""
        return None

    def run(self, progress_callback: Callable[[Any], None]) -> Any:
        """Does the work; returns what ``resultType`` asks for, or raises to fail."""
        raise Exception("unimplemented")
