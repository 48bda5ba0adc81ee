"""Runs an endpoint's code the way the DSS API node's Python-function server does.

Followed: DSS 9.0.5 ``dataiku/apinode/predict/functionserver.py`` (``LoadedFunction``): the code
is exec'd once with ``{"folders": [...]}`` as its only globals (``exec(code, ctx, ctx)``); every
function object in that namespace counts (imported ones too): if there is exactly one it is used
whatever its name, otherwise the one named by the endpoint's ``userFunctionName``; each request
calls it with the JSON body's keys as keyword arguments. DSS 9's ``dataiku/apinode/__init__.py``
is empty. ``DkuCustomApiException`` is documented (developer guide, api-designer/custom-responses)
as usable inside the served function only; here it is put into the function's globals when a
request is served (``request_exception``), or left out as DSS 9 does (``None``): any other
exception answers 500 with its message. (DSS 9's server then stops the process; this one keeps
answering, as a later DSS that restarts it would.)

As a script: ``python apinode_emulator.py CODE.py FOLDERS.json REQUESTS.json OUT.json [--dss9]`` writes
``{"responses": [[status, body], ...], "function": name, "street2shop_file": ...}``.
"""

from __future__ import annotations

import inspect
import json
import sys
from collections.abc import Callable
from typing import Any

DEFAULT_FUNCTION_NAME = "recommend"


class DkuCustomApiException(Exception):
    """The function server's custom error: ``message`` answered with ``http_status_code``."""

    def __init__(self, message: str, http_status_code: int = 500):
        super().__init__(message)
        self.message = message
        self.http_status_code = http_status_code


def load_function(code_path: str, folders: list[str], function_name: str = DEFAULT_FUNCTION_NAME) -> Callable[..., Any]:
    """Exec the endpoint code as DSS 9's function server does and return the function it serves."""
    with open(code_path, encoding="utf-8") as stream:
        code = compile(stream.read(), code_path, "exec")
    ctx: dict[str, Any] = {"folders": list(folders)}
    exec(code, ctx, ctx)
    functions = [value for value in ctx.values() if inspect.isfunction(value)]
    function = functions[0] if len(functions) == 1 else ctx.get(function_name)
    if function is None:
        raise Exception(f'No function "{function_name}" defined')
    return function


def call(function: Callable[..., Any], body: str, request_exception: type | None = DkuCustomApiException) -> tuple[int, Any]:
    """One request: the JSON body's keys as keyword arguments; ``(status, JSON-able answer)``."""
    if request_exception is not None:
        function.__globals__["DkuCustomApiException"] = request_exception
    data = json.loads(body)
    if not isinstance(data, dict):
        return 400, {"message": "the body must be a JSON object"}
    try:
        result = function(**data)
        return 200, json.loads(json.dumps(result))
    except Exception as err:  # noqa: BLE001 - the function server answers 500 for anything else
        if request_exception is not None and isinstance(err, request_exception):
            return int(err.http_status_code), {"message": err.message}
        return 500, {"message": f"{type(err).__name__}: {err}"}


def main(argv: list[str]) -> int:
    dss9 = "--dss9" in argv
    code_path, folders_path, requests_path, out_path = [arg for arg in argv if arg != "--dss9"]
    with open(folders_path, encoding="utf-8") as stream:
        folders = json.load(stream)
    with open(requests_path, encoding="utf-8") as stream:
        bodies = json.load(stream)
    function = load_function(code_path, folders)
    exception = None if dss9 else DkuCustomApiException
    responses = [call(function, body, exception) for body in bodies]
    with open(out_path, "w", encoding="utf-8") as stream:
        json.dump({"responses": responses, "function": function.__name__, "street2shop_file": sys.modules["street2shop"].__file__}, stream)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
