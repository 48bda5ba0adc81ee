"""Core handles of the double (datasets, managed folders, flow spec), as in ``dataiku.core``."""

from __future__ import annotations

import os

from dataiku._double import context


def default_project_key() -> str:
    """The current project key (``DKU_CURRENT_PROJECT_KEY``, as DSS sets it)."""
    key = os.environ.get("DKU_CURRENT_PROJECT_KEY") or context.spec().get("projectKey")
    if not key:
        raise Exception("Default project key is not specified (no DKU_CURRENT_PROJECT_KEY env var)")
    return key
