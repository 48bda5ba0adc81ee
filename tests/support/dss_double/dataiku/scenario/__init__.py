"""Scenario API (``dataiku.scenario``) for Python steps."""

from __future__ import annotations

from dataiku.scenario.scenario import BuildFlowItemsStepDefHelper, Scenario, ScenarioMessageSender, StepHandle

__all__ = ["BuildFlowItemsStepDefHelper", "Scenario", "ScenarioMessageSender", "StepHandle"]
