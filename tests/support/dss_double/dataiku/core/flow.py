"""The recipe's flow spec (``FLOW``), read once at import as in DSS; None outside a recipe."""

from __future__ import annotations

from dataiku._double import context

try:
    FLOW = context.flow()
except context.DoubleSetupError:
    FLOW = None
