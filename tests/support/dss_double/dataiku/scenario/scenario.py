"""``dataiku.scenario.Scenario`` for plugin steps: variables, triggers, and builds recorded (never run) to a state file."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from dataiku._double import context, storage
from dataiku.core import default_project_key

BUILD_MODES = ("RECURSIVE_BUILD", "NON_RECURSIVE_FORCED_BUILD", "RECURSIVE_FORCED_BUILD",
               "RECURSIVE_MISSING_ONLY_BUILD")


def _scenario_spec() -> dict:
    spec = context.spec().get("scenario")
    if not spec:
        raise Exception("The scenario API can only be used from a scenario (not from a recipe, macro or notebook)")
    return spec


def _load_state() -> dict:
    state = storage.read_json(_state_path(), None)
    return state or {"scenarioVariables": {}, "calls": [], "messages": [], "reportItems": []}


def _state_path() -> Path:
    return Path(_scenario_spec()["stateFile"])


def _update_state(key: str, value: Any) -> None:
    state = _load_state()
    if key == "scenarioVariables":
        state[key].update(value)
    else:
        state[key].append(value)
    storage.write_json(_state_path(), state)


class StepHandle:
    """Handle of a step launched with ``asynchronous=True`` (already finished in the double)."""

    def __init__(self, result: dict):
        self.result = result
        self.future_id = None

    def is_done(self) -> bool:
        return True

    def wait_for_completion(self) -> dict:
        return self.result

    def get_result(self) -> dict:
        return self.result


class BuildFlowItemsStepDefHelper:
    """Collects datasets/folders/models for one "Build" step."""

    def __init__(self, scenario: "Scenario", step_name: str | None = None, build_mode: str = "RECURSIVE_BUILD"):
        if build_mode not in BUILD_MODES:
            raise ValueError(f"Unknown build mode {build_mode!r}; use one of {', '.join(BUILD_MODES)}")
        self.scenario = scenario
        self.step = {"type": "build_flowitem", "name": step_name or "build",
                     "params": {"builds": [], "jobType": build_mode}}

    def _add(self, item_type: str, item_id: str, project_key: str | None, partitions: Any = None) -> None:
        self.step["params"]["builds"].append({"type": item_type, "itemId": item_id,
                                              "projectKey": project_key or self.scenario.project_key,
                                              "partitionsSpec": partitions})

    def add_dataset(self, dataset_name: str, project_key: str | None = None, partitions: Any = None) -> None:
        self._add("DATASET", dataset_name, project_key, partitions)

    def add_folder(self, folder_id: str, project_key: str | None = None, partitions: Any = None) -> None:
        self._add("MANAGED_FOLDER", folder_id, project_key, partitions)

    def add_model(self, model_id: str, project_key: str | None = None) -> None:
        self._add("SAVED_MODEL", model_id, project_key)

    def get_step(self) -> dict:
        return self.step


class Scenario:
    """Handle on the running scenario."""

    def __init__(self):
        self.project_key = default_project_key()

    # ------------------------------------------------------------------ variables and context

    def get_all_variables(self) -> dict:
        """Project, run and scenario variables, typed, plus ``scenarioTriggerParams``."""
        from dataiku import get_custom_variables

        spec = _scenario_spec()
        variables = get_custom_variables(typed=True)
        variables.update(_load_state()["scenarioVariables"])
        variables["scenarioTriggerParams"] = spec.get("triggerParams") or {}
        return variables

    def set_scenario_variables(self, **kwargs: Any) -> None:
        """Adds variables to this scenario run (JSON values)."""
        json.dumps(kwargs)  # DSS sends them as JSON: fail the same way on unserialisable values
        _update_state("scenarioVariables", kwargs)

    def get_trigger_type(self) -> str | None:
        return _scenario_spec().get("triggerType")

    def get_trigger_name(self) -> str | None:
        return _scenario_spec().get("triggerName")

    def get_trigger_params(self) -> dict | None:
        return _scenario_spec().get("triggerParams")

    def get_previous_steps_outputs(self) -> list:
        return list(_scenario_spec().get("previousStepsOutputs") or [])

    def set_project_variables(self, project_key: str | None = None, step_name: str | None = None,
                              asynchronous: bool = False, fail_fatal: bool = True, **kwargs: Any) -> dict:
        """Sets project variables (persisted to the double's project)."""
        key = project_key or self.project_key
        variables = storage.project_variables(context.root(), key)
        variables["standard"].update(kwargs)
        storage.set_project_variables(context.root(), key, variables)
        return self._record("set_project_variables", {"projectKey": key, "variables": kwargs}, step_name, asynchronous)

    def set_global_variables(self, step_name: str | None = None, asynchronous: bool = False, fail_fatal: bool = True,
                             **kwargs: Any) -> dict:
        return self._record("set_global_variables", {"variables": kwargs}, step_name, asynchronous)

    # ------------------------------------------------------------------ steps (recorded, not executed)

    def _record(self, method: str, args: dict, step_name: str | None, asynchronous: bool):
        _scenario_spec()
        _update_state("calls", {"method": method, "args": args, "stepName": step_name})
        result = {"outcome": "SUCCESS", "stepName": step_name}
        return StepHandle(result) if asynchronous else result

    def _check_build_mode(self, build_mode: str) -> None:
        if build_mode not in BUILD_MODES:
            raise ValueError(f"Unknown build mode {build_mode!r}; use one of {', '.join(BUILD_MODES)}")

    def run_step(self, step: Any, asynchronous: bool = False, fail_fatal: bool = True, **kwargs: Any):
        if isinstance(step, BuildFlowItemsStepDefHelper):
            step = step.get_step()
        return self._record("run_step", {"step": step}, step.get("name"), asynchronous)

    def new_build_flowitems_step(self, step_name: str | None = None, build_mode: str = "RECURSIVE_BUILD"):
        return BuildFlowItemsStepDefHelper(self, step_name, build_mode)

    def build_dataset(self, dataset_name: str, project_key: str | None = None, build_mode: str = "RECURSIVE_BUILD",
                      partitions: Any = None, step_name: str | None = None, asynchronous: bool = False,
                      fail_fatal: bool = True, **kwargs: Any):
        """Records a dataset build (the dataset must exist)."""
        self._check_build_mode(build_mode)
        key = project_key or self.project_key
        name = dataset_name.split(".", 1)[1] if "." in dataset_name else dataset_name
        if not storage.dataset_exists(context.root(), key, name):
            raise Exception(f"Dataset {key}.{name} does not exist")
        return self._record("build_dataset", {"dataset_name": name, "project_key": key, "build_mode": build_mode,
                                              "partitions": partitions}, step_name, asynchronous)

    def build_folder(self, folder_id: str, project_key: str | None = None, build_mode: str = "RECURSIVE_BUILD",
                     partitions: Any = None, step_name: str | None = None, asynchronous: bool = False,
                     fail_fatal: bool = True, **kwargs: Any):
        """Records a folder build; takes the folder *id*, not its name."""
        self._check_build_mode(build_mode)
        key = project_key or self.project_key
        if not storage.folder_exists(context.root(), key, folder_id):
            raise Exception(f"Managed folder {key}.{folder_id} does not exist (build_folder takes an id, not a name)")
        return self._record("build_folder", {"folder_id": folder_id, "project_key": key, "build_mode": build_mode,
                                             "partitions": partitions}, step_name, asynchronous)

    def train_model(self, model_id: str, project_key: str | None = None, build_mode: str = "RECURSIVE_BUILD",
                    step_name: str | None = None, asynchronous: bool = False, fail_fatal: bool = True, **kwargs: Any):
        self._check_build_mode(build_mode)
        return self._record("train_model", {"model_id": model_id, "project_key": project_key or self.project_key,
                                            "build_mode": build_mode}, step_name, asynchronous)

    def clear_dataset(self, dataset_name: str, project_key: str | None = None, partitions: Any = None,
                      step_name: str | None = None, asynchronous: bool = False, fail_fatal: bool = True, **kwargs: Any):
        return self._record("clear_dataset", {"dataset_name": dataset_name, "project_key": project_key or self.project_key,
                                              "partitions": partitions}, step_name, asynchronous)

    def clear_folder(self, folder_id: str, project_key: str | None = None, step_name: str | None = None,
                     asynchronous: bool = False, fail_fatal: bool = True, **kwargs: Any):
        return self._record("clear_folder", {"folder_id": folder_id, "project_key": project_key or self.project_key},
                            step_name, asynchronous)

    def run_dataset_checks(self, dataset_name: str, project_key: str | None = None, partitions: Any = None,
                           step_name: str | None = None, asynchronous: bool = False, fail_fatal: bool = True,
                           **kwargs: Any):
        return self._record("run_dataset_checks", {"dataset_name": dataset_name,
                                                   "project_key": project_key or self.project_key,
                                                   "partitions": partitions}, step_name, asynchronous)

    def compute_dataset_metrics(self, dataset_name: str, project_key: str | None = None, partitions: Any = None,
                                step_name: str | None = None, asynchronous: bool = False, fail_fatal: bool = True,
                                **kwargs: Any):
        return self._record("compute_dataset_metrics", {"dataset_name": dataset_name,
                                                        "project_key": project_key or self.project_key,
                                                        "partitions": partitions}, step_name, asynchronous)

    def execute_sql(self, connection: str, sql: str, step_name: str | None = None, asynchronous: bool = False,
                    fail_fatal: bool = True, **kwargs: Any):
        return self._record("execute_sql", {"connection": connection, "sql": sql}, step_name, asynchronous)

    # ------------------------------------------------------------------ reporting

    def get_message_sender(self, channel_id: str, type: str | None = None) -> "ScenarioMessageSender":
        """A sender on a messaging channel; sent messages are recorded."""
        return ScenarioMessageSender(channel_id, type)

    def add_report_item(self, object_ref: Any, partition: Any, report_item: Any) -> None:
        _update_state("reportItems", {"objectRef": object_ref, "partition": partition, "reportItem": report_item})


class ScenarioMessageSender:
    """Sends messages on a DSS messaging channel (recorded in the double)."""

    def __init__(self, channel_id: str, type: str | None = None):
        self.channel_id = channel_id
        self.type = type

    def send(self, **kwargs: Any) -> None:
        json.dumps(kwargs)
        _update_state("messages", {"channelId": self.channel_id, "type": self.type, "params": kwargs})
