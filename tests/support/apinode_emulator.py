"""Runs an endpoint's code the way the DSS API node's Python-function server does (DSS 9 source, reference §8.2).

The code is exec'd once with ``folders`` (and ``DkuCustomApiException``) as globals; if it defines
exactly one function, that function serves every request, called with the JSON body's keys as
keyword arguments. ``DkuCustomApiException`` becomes its HTTP status; any other exception a 500.

As a script: ``python apinode_emulator.py CODE.py FOLDERS.json REQUESTS.json OUT.json`` writes
``{"responses": [[status, body], ...], "street2shop_file": ...}``.
"""

from __future__ import annotations

import json
import sys
import types
from collections.abc import Callable
from typing import Any


class DkuCustomApiException(Exception):
    """The API node's custom error: ``message`` answered with ``http_status_code``."""

    def __init__(self, message: str, http_status_code: int = 500):
        super().__init__(message)
        self.message = message
        self.http_status_code = http_status_code


def load_function(code_path: str, folders: list[str], exception: type = DkuCustomApiException) -> Callable[..., Any]:
    """Exec the endpoint code as the API node does and return its one function."""
    with open(code_path, encoding="utf-8") as stream:
        code = compile(stream.read(), code_path, "exec")
    namespace: dict[str, Any] = {"folders": list(folders), "DkuCustomApiException": exception, "__name__": "dku_api_function"}
    exec(code, namespace)
    functions = [v for v in namespace.values() if isinstance(v, types.FunctionType) and v.__code__.co_filename == code_path]
    if len(functions) != 1:
        raise RuntimeError(f"the endpoint code must define exactly one function, found {[f.__name__ for f in functions]}")
    return functions[0]


def call(function: Callable[..., Any], body: str, exception: type = DkuCustomApiException) -> tuple[int, Any]:
    """One request: the JSON body's keys as keyword arguments; ``(status, JSON-able answer)``."""
    data = json.loads(body)
    if not isinstance(data, dict):
        return 400, {"message": "the body must be a JSON object"}
    try:
        result = function(**data)
        return 200, json.loads(json.dumps(result))
    except exception as err:
        return int(err.http_status_code), {"message": err.message}
    except Exception as err:  # noqa: BLE001 - the function server answers 500 and keeps running
        return 500, {"message": f"{type(err).__name__}: {err}"}


def main(argv: list[str]) -> int:
    code_path, folders_path, requests_path, out_path = argv
    with open(folders_path, encoding="utf-8") as stream:
        folders = json.load(stream)
    with open(requests_path, encoding="utf-8") as stream:
        bodies = json.load(stream)
    function = load_function(code_path, folders)
    responses = [call(function, body) for body in bodies]
    with open(out_path, "w", encoding="utf-8") as stream:
        json.dump({"responses": responses, "function": function.__name__, "street2shop_file": sys.modules["street2shop"].__file__}, stream)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
