"""Runs a macro's ``runnable.py`` the way DSS's runnable server does, writing the outcome to a JSON file.

Usage: ``python -m dataiku.runnables._double_runner RUNNABLE_PY COMMAND_JSON RESULT_JSON`` where the command is
``{"projectKey", "config", "pluginConfig"}``. The result file gets ``{"ok", "result", "resultKind", "progress",
"progressTarget", "error"}``.
"""

from __future__ import annotations

import importlib.util
import inspect
import json
import sys
import traceback
from typing import Any

from dataiku.runnables.runnable import Runnable


def find_runnable_class(module: Any) -> type:
    """The single ``Runnable`` subclass visible in the module (DSS scans every module-level name)."""
    found = None
    for name in dir(module):
        value = getattr(module, name)
        if inspect.isclass(value) and issubclass(value, Runnable) and value is not Runnable:
            if found is not None:
                raise Exception(f"Multiple classes inheriting {Runnable} defined, already had {found} and found {value}")
            found = value
    if found is None:
        raise Exception("No class inheriting dataiku.runnables.Runnable found in runnable.py")
    return found


def instantiate(clazz: type, project_key: str, config: dict, plugin_config: dict) -> Runnable:
    """Calls the constructor with as many of (project_key, config, plugin_config) as it takes."""
    params = [p for p in inspect.signature(clazz.__init__).parameters.values()
              if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    args = [project_key, config, plugin_config]
    if not 1 <= len(params) <= 4:
        raise Exception(f"Wrong signature of the Runnable subclass: {len(params)} args")
    return clazz(*args[: len(params) - 1])


def serialise_result(result: Any) -> tuple[str, Any]:
    """What DSS sends back: ResultTable/dict as JSON, strings as they are."""
    if result is None:
        return "none", None
    to_json = getattr(result, "to_json", None)
    if callable(to_json):
        return "json", json.loads(to_json())
    if isinstance(result, dict):
        return "json", json.loads(json.dumps(result))
    if isinstance(result, str):
        return "string", result
    raise TypeError(f"A macro must return a string, a dict or a ResultTable (or None), not {type(result).__name__}")


def main(argv: list[str]) -> int:
    runnable_path, command_path, result_path = argv
    with open(command_path, encoding="utf-8") as f:
        command = json.load(f)
    outcome: dict = {"ok": False, "result": None, "resultKind": "none", "progress": [], "progressTarget": None,
                     "error": None}
    try:
        spec = importlib.util.spec_from_file_location("dku_runnable_module", runnable_path)
        module = importlib.util.module_from_spec(spec)
        sys.modules["dku_runnable_module"] = module
        spec.loader.exec_module(module)
        runnable = instantiate(find_runnable_class(module), command.get("projectKey"),
                               command.get("config", {}), command.get("pluginConfig", {}))
        target = runnable.get_progress_target()
        if target is not None:
            outcome["progressTarget"] = [target[0] if len(target) >= 1 else -1,
                                         target[1] if len(target) >= 2 else "NONE"]

            def progress_callback(current: Any) -> None:
                outcome["progress"].append(current)
        else:
            def progress_callback(current: Any) -> None:
                print(f"Progress : {current}")

        result = runnable.run(progress_callback)
        outcome["resultKind"], outcome["result"] = serialise_result(result)
        outcome["ok"] = True
    except BaseException as err:  # noqa: BLE001 - report any failure of user code like DSS does
        traceback.print_exc()
        outcome["error"] = {"errorType": type(err).__name__, "message": str(err)}
    with open(result_path, "w", encoding="utf-8") as f:
        json.dump(outcome, f)
    return 0 if outcome["ok"] else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
