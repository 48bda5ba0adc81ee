"""Macro API (``dataiku.runnables``): the ``Runnable`` base class and ``ResultTable``."""

from __future__ import annotations

from dataiku.runnables.result import ResultTable
from dataiku.runnables.runnable import Runnable

__all__ = ["ResultTable", "Runnable"]
