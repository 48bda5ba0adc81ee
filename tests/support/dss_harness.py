"""Runs plugin recipes, steps, macros and webapp backends as DSS would, against the ``dataiku`` double.

Recipes, steps and macros run in a subprocess (``sys.executable``) whose PYTHONPATH is the double
(tests/support/dss_double) plus the plugin's python-lib, with the environment variables DSS sets. Webapp
backends run in-process inside a Flask app whose test client swaps the double in for each request.
"""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import subprocess
import sys
import tempfile
import types
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parents[2]
DOUBLE_DIR = Path(__file__).resolve().parent / "dss_double"


def _load_storage() -> types.ModuleType:
    # Loaded by path so that the test process never imports the ``dataiku`` double itself.
    name = "_dss_double_storage"
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, DOUBLE_DIR / "dataiku" / "_double" / "storage.py")
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    return sys.modules[name]


storage = _load_storage()


def _read_strict_json(path: Path) -> Any:
    with open(path, encoding="utf-8") as f:
        return json.load(f)


def _tail(text: str, limit: int = 4000) -> str:
    return text if len(text) <= limit else "..." + text[-limit:]


@dataclass
class StepRun:
    """Outcome of a scenario step run."""

    returncode: int
    stdout: str
    stderr: str
    scenario_variables: dict = field(default_factory=dict)
    recorded_calls: list = field(default_factory=list)
    messages: list = field(default_factory=list)
    report_items: list = field(default_factory=list)


@dataclass
class MacroRun:
    """Outcome of a macro run: ``result`` is the deserialised return value (ResultTable → dict)."""

    returncode: int
    stdout: str
    stderr: str
    result: Any = None
    result_kind: str = "none"
    progress: list = field(default_factory=list)
    progress_target: list | None = None
    error: dict | None = None


class DSSProject:
    """A fake DSS project on local files, plus runners for the plugin's components."""

    def __init__(self, root: Path, project_key: str = "TESTPROJ", plugin_root: Path = REPO_ROOT):
        self.root = Path(root)
        self.project_key = project_key
        self.plugin_root = Path(plugin_root)
        #: The DSS whose ``dataiku`` package the double imitates in runs (e.g. "12.6": no use_nullable_integers).
        self.dss_version = "14.0"
        storage.project_dir(self.root, project_key).mkdir(parents=True, exist_ok=True)
        plugin_id = self.plugin_root.name
        if (self.plugin_root / "plugin.json").exists():
            plugin_id = _read_strict_json(self.plugin_root / "plugin.json").get("id", plugin_id)
        installed = storage.dip_home(self.root) / "plugins" / "installed" / plugin_id
        if not installed.exists():
            installed.parent.mkdir(parents=True, exist_ok=True)
            installed.symlink_to(self.plugin_root, target_is_directory=True)

    # ------------------------------------------------------------------ project content

    def set_variables(self, standard: dict, local: dict | None = None) -> None:
        """Sets the project variables (``get_custom_variables`` resolves them)."""
        storage.set_project_variables(self.root, self.project_key, {"standard": standard, "local": local or {}})

    def add_dataset(self, name: str, df: Any = None, *, partitions: dict[str, Any] | None = None,
                    partitioning_dimension: str | None = None) -> None:
        """Creates a dataset, written as DSS would store ``write_with_schema(df)``.

        With neither ``df`` nor ``partitions`` it is an empty dataset without schema (an output to be).
        """
        if df is not None and partitions is not None:
            raise ValueError("give either df (not partitioned) or partitions, not both")
        if partitions is not None and not partitioning_dimension:
            raise ValueError("partitions need a partitioning_dimension")
        if df is not None and partitioning_dimension:
            raise ValueError("a partitioned dataset takes its data through partitions={id: df}")
        storage.create_dataset(self.root, self.project_key, name, partitioning_dimension)
        if df is not None:
            storage.write_dataframe(self.root, self.project_key, name, df)
        for i, (partition, part_df) in enumerate((partitions or {}).items()):
            storage.write_dataframe(self.root, self.project_key, name, part_df, partition, set_schema=(i == 0))

    def add_folder(self, folder_id: str, *, name: str | None = None, files: dict[str, bytes] | None = None,
                   source_dir: Path | None = None, partitioning_dimension: str | None = None,
                   partitions: dict[str, dict[str, bytes]] | None = None, file_path_pattern: str | None = None) -> None:
        """Creates a managed folder; partition P's files live under the pattern's directory (``P/`` for ``%{dim}/.*``)."""
        if partitions is not None and not partitioning_dimension:
            raise ValueError("partitions need a partitioning_dimension")
        storage.create_folder(self.root, self.project_key, folder_id, name, partitioning_dimension, file_path_pattern)
        base = storage.folder_files_dir(self.root, self.project_key, folder_id)
        if source_dir is not None:
            shutil.copytree(source_dir, base, dirs_exist_ok=True)
        for rel, data in (files or {}).items():
            self._put(base, storage.clean_path(rel), data)
        partitioning = storage.folder_config(self.root, self.project_key, folder_id)["partitioning"]
        for partition, part_files in (partitions or {}).items():
            for rel, data in part_files.items():
                self._put(base, storage.clean_path(f"{storage.partition_dir(partitioning, partition)}/{rel}"), data)

    @staticmethod
    def _put(base: Path, rel: str, data: bytes) -> None:
        target = base / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)

    def read_dataset(self, name: str, partition: str | None = None) -> Any:
        """The dataset as a downstream recipe's ``get_dataframe()`` sees it (all partitions by default)."""
        return storage.read_dataframe(self.root, self.project_key, name,
                                      None if partition is None else [partition])

    def dataset_schema(self, name: str) -> list[dict]:
        """The dataset's schema columns."""
        return storage.read_schema(self.root, self.project_key, name)

    def dataset_partitions(self, name: str) -> list[str]:
        """Partition ids holding data (``["NP"]`` when not partitioned)."""
        return storage.list_dataset_partitions(self.root, self.project_key, name)

    def folder_files(self, folder_id: str, partition: str | None = None) -> dict[str, Path]:
        """Files of a folder (or of one partition, relative to the partition's directory)."""
        fid = storage.resolve_folder(self.root, self.project_key, folder_id)
        base = storage.folder_files_dir(self.root, self.project_key, fid)
        prefix = ""
        if partition:
            prefix = storage.partition_dir(storage.folder_config(self.root, self.project_key, fid)["partitioning"], partition)
        files = {}
        for path in storage.list_folder_files(self.root, self.project_key, fid, prefix):
            files[path[len(prefix) + 1:] if prefix else path] = base / path
        return files

    # ------------------------------------------------------------------ running components

    def _new_run_dir(self, label: str) -> Path:
        runs = self.root / "runs"
        runs.mkdir(exist_ok=True)
        return Path(tempfile.mkdtemp(prefix=f"{label}-", dir=runs))

    def _spec(self, run_dir: Path, **values: Any) -> Path:
        spec = {"projectKey": self.project_key, "variables": {}, "flow": None, "flowVariables": {},
                "allowDirectAccess": False, "apiClient": None, "scenario": None, "dssVersion": self.dss_version}
        spec.update(values)
        path = run_dir / "dku_double_spec.json"
        path.write_text(json.dumps(spec, indent=2), encoding="utf-8")
        return path

    def _base_env(self, spec_path: Path) -> dict[str, str]:
        return {
            "DKU_DOUBLE_ROOT": str(self.root),
            "DKU_DOUBLE_FLOW": str(spec_path),
            "DKU_CURRENT_PROJECT_KEY": self.project_key,
        }

    def _python_path(self) -> list[str]:
        return [str(DOUBLE_DIR), str(self.plugin_root / "python-lib")]

    def _run(self, args: list[str], run_dir: Path, env_extra: dict[str, str], timeout: float,
             check: bool, label: str) -> subprocess.CompletedProcess:
        env = {k: v for k, v in os.environ.items() if not k.startswith("DKU")}
        env.update(env_extra)
        env["PYTHONPATH"] = os.pathsep.join(self._python_path())
        env["PYTHONUNBUFFERED"] = "1"
        try:
            proc = subprocess.run([sys.executable, *args], cwd=run_dir, env=env, capture_output=True, text=True,
                                  timeout=timeout)
        except subprocess.TimeoutExpired as e:
            err = e.stderr.decode(errors="replace") if isinstance(e.stderr, bytes) else (e.stderr or "")
            raise AssertionError(f"{label} timed out after {timeout}s\n--- stderr (tail) ---\n{_tail(err)}") from e
        if check and proc.returncode != 0:
            raise AssertionError(f"{label} failed with exit code {proc.returncode}\n"
                                 f"--- stderr (tail) ---\n{_tail(proc.stderr)}\n"
                                 f"--- stdout (tail) ---\n{_tail(proc.stdout, 2000)}")
        return proc

    def _resource_dir(self) -> str:
        return str(self.plugin_root / "resource")

    def _split_name(self, name: str) -> tuple[str, str]:
        return tuple(name.split(".", 1)) if "." in name else (self.project_key, name)

    def _flow_item(self, role: str, name: str, role_def: dict, output: bool) -> dict:
        pk, short = self._split_name(name)
        accepts_ds = role_def.get("acceptsDataset", True)
        accepts_mf = role_def.get("acceptsManagedFolder", False)
        kind = None
        if storage.dataset_exists(self.root, pk, short):
            kind = "DATASET"
        else:
            try:
                short = storage.resolve_folder(self.root, pk, short)
                kind = "MANAGED_FOLDER"
            except storage.StorageFailure:
                pass
        if kind is None and output and pk == self.project_key and accepts_ds != accepts_mf:
            if accepts_ds:
                storage.create_dataset(self.root, pk, short)
                kind = "DATASET"
            else:
                storage.create_folder(self.root, pk, short)
                kind = "MANAGED_FOLDER"
        if kind is None:
            raise AssertionError(f"{'output' if output else 'input'} {name!r} of role {role!r} does not exist: "
                                 "create it with add_dataset/add_folder first")
        if kind == "DATASET" and not accepts_ds:
            raise AssertionError(f"role {role!r} does not accept datasets ({name!r} is one)")
        if kind == "MANAGED_FOLDER" and not accepts_mf:
            raise AssertionError(f"role {role!r} does not accept managed folders ({name!r} is one)")
        item = {"role": role, "type": kind, "fullName": f"{pk}.{short}",
                "smartName": short if pk == self.project_key else f"{pk}.{short}"}
        if kind == "MANAGED_FOLDER":
            item["boxLabel"] = storage.folder_config(self.root, pk, short)["name"]
        return item

    def _dimension(self, item: dict) -> str | None:
        pk, short = item["fullName"].split(".", 1)
        if item["type"] == "DATASET":
            return storage.dataset_dimension(self.root, pk, short)
        dims = storage.folder_config(self.root, pk, short)["partitioning"]["dimensions"]
        return dims[0]["name"] if dims else None

    @staticmethod
    def _check_roles(kind: str, given: dict[str, list[str]], declared: list[dict]) -> dict[str, dict]:
        by_name = {r["name"]: r for r in declared}
        for role, names in given.items():
            if role not in by_name:
                raise AssertionError(f"recipe.json declares no {kind} role {role!r} (has {sorted(by_name)})")
            if by_name[role].get("arity", "UNARY") == "UNARY" and len(names) > 1:
                raise AssertionError(f"{kind} role {role!r} is UNARY but got {len(names)} items")
        for role in declared:
            if role.get("required", False) and not given.get(role["name"]):
                raise AssertionError(f"required {kind} role {role['name']!r} is not bound")
        return by_name

    def run_recipe(self, recipe_id: str, *, inputs: dict[str, list[str]], outputs: dict[str, list[str]],
                   config: dict, plugin_config: dict | None = None,
                   read_partitions: dict[str, list[str]] | None = None, write_partition: str | None = None,
                   flow_variables: dict | None = None, timeout: float = 600, check: bool = True,
                   api_client: str | None = None, variables: dict | None = None,
                   allow_direct_access: bool = False) -> subprocess.CompletedProcess:
        """Runs ``custom-recipes/<recipe_id>/recipe.py`` with the given role bindings.

        ``read_partitions`` maps an input name to the partitions DSS would read (default: all);
        ``write_partition`` is the target partition of the partitioned outputs. ``api_client`` is
        ``"module:factory"`` or ``"/path/file.py:factory"`` for ``dataiku.api_client()``;
        ``allow_direct_access`` lets ``Folder.get_path()`` work (as on a local, non-container run).
        """
        recipe_dir = self.plugin_root / "custom-recipes" / recipe_id
        desc = _read_strict_json(recipe_dir / "recipe.json")
        in_roles = self._check_roles("input", inputs, desc.get("inputRoles", []))
        out_roles = self._check_roles("output", outputs, desc.get("outputRoles", []))
        read_partitions = dict(read_partitions or {})
        flow_vars: dict[str, str] = {}
        flow_in, flow_out = [], []
        for role, names in inputs.items():
            for name in names:
                item = self._flow_item(role, name, in_roles[role], output=False)
                dim = self._dimension(item)
                parts = read_partitions.pop(name, None)
                if parts is None:
                    parts = read_partitions.pop(item["fullName"], None)
                if dim is None and parts:
                    raise AssertionError(f"input {name!r} is not partitioned: no read partitions for it")
                if dim is not None:
                    if parts is None and item["type"] == "DATASET":
                        parts = storage.list_dataset_partitions(self.root, *item["fullName"].split(".", 1))
                    if parts is not None:
                        item["partitions"] = list(parts)
                        if len(parts) == 1:
                            flow_vars[f"DKU_SRC_{item['smartName']}_{dim}"] = parts[0]
                flow_in.append(item)
        if read_partitions:
            raise AssertionError(f"read_partitions names unknown inputs: {sorted(read_partitions)}")
        partitioned_out = False
        for role, names in outputs.items():
            for name in names:
                item = self._flow_item(role, name, out_roles[role], output=True)
                item["appendMode"] = False
                dim = self._dimension(item)
                if dim is not None:
                    if write_partition is None:
                        raise AssertionError(f"output {name!r} is partitioned by {dim!r}: give write_partition")
                    item["partition"] = write_partition
                    flow_vars[f"DKU_DST_{dim}"] = write_partition
                    partitioned_out = True
                flow_out.append(item)
        if write_partition is not None and not partitioned_out:
            raise AssertionError("write_partition given but no output is partitioned")
        flow_vars.update(flow_variables or {})
        run_dir = self._new_run_dir(f"recipe-{recipe_id}")
        spec = self._spec(run_dir, flow={"in": flow_in, "out": flow_out}, flowVariables=flow_vars,
                          apiClient=api_client, variables=variables or {}, allowDirectAccess=allow_direct_access)
        env = self._base_env(spec)
        env.update({
            "DKU_CUSTOM_RECIPE_CONFIG": json.dumps(config),
            "DKU_CUSTOM_RECIPE_PLUGIN_CONFIG": json.dumps(plugin_config or {}),
            "DKU_CUSTOM_RESOURCE_FOLDER": self._resource_dir(),
        })
        return self._run([str(recipe_dir / "recipe.py")], run_dir, env, timeout, check, f"recipe {recipe_id}")

    def run_step(self, step_id: str, *, config: dict, plugin_config: dict | None = None,
                 variables: dict | None = None, check: bool = True, timeout: float = 600,
                 trigger_type: str = "manual", trigger_params: dict | None = None,
                 previous_steps_outputs: list | None = None, api_client: str | None = None,
                 allow_direct_access: bool = False) -> StepRun:
        """Runs ``python-steps/<step_id>/step.py`` inside a fake scenario run."""
        step_dir = self.plugin_root / "python-steps" / step_id
        _read_strict_json(step_dir / "step.json")
        run_dir = self._new_run_dir(f"step-{step_id}")
        state_file = run_dir / "scenario_state.json"
        spec = self._spec(run_dir, variables=variables or {}, apiClient=api_client,
                          allowDirectAccess=allow_direct_access, scenario={
            "stateFile": str(state_file), "triggerType": trigger_type, "triggerParams": trigger_params or {},
            "previousStepsOutputs": previous_steps_outputs or []})
        env = self._base_env(spec)
        env.update({
            "DKU_PLUGIN_STEP_CONFIG": json.dumps(config),
            "DKU_PLUGIN_CONFIG": json.dumps(plugin_config or {}),
            "DKU_CUSTOM_RESOURCE_FOLDER": self._resource_dir(),
        })
        proc = self._run([str(step_dir / "step.py")], run_dir, env, timeout, check, f"step {step_id}")
        state = storage.read_json(state_file, None) or {}
        return StepRun(proc.returncode, proc.stdout, proc.stderr, state.get("scenarioVariables", {}),
                       state.get("calls", []), state.get("messages", []), state.get("reportItems", []))

    def run_macro(self, macro_id: str, *, config: dict, plugin_config: dict | None = None, timeout: float = 600,
                  check: bool = True, api_client: str | None = None, variables: dict | None = None,
                  allow_direct_access: bool = False) -> MacroRun:
        """Runs ``python-runnables/<macro_id>/runnable.py`` through the double's runnable runner."""
        macro_dir = self.plugin_root / "python-runnables" / macro_id
        _read_strict_json(macro_dir / "runnable.json")
        run_dir = self._new_run_dir(f"macro-{macro_id}")
        spec = self._spec(run_dir, apiClient=api_client, variables=variables or {},
                          allowDirectAccess=allow_direct_access)
        command = run_dir / "command.json"
        command.write_text(json.dumps({"projectKey": self.project_key, "config": config,
                                       "pluginConfig": plugin_config or {}}), encoding="utf-8")
        result_file = run_dir / "result.json"
        proc = self._run(["-m", "dataiku.runnables._double_runner", str(macro_dir / "runnable.py"), str(command),
                          str(result_file)], run_dir, self._base_env(spec), timeout, check, f"macro {macro_id}")
        out = storage.read_json(result_file, None) or {}
        return MacroRun(proc.returncode, proc.stdout, proc.stderr, out.get("result"), out.get("resultKind", "none"),
                        out.get("progress", []), out.get("progressTarget"), out.get("error"))

    def webapp_client(self, webapp_id: str, *, config: dict, plugin_config: dict | None = None,
                      api_client: str | None = None, allow_direct_access: bool = False):
        """A Flask test client on ``webapps/<webapp_id>/backend.py`` run with ``app`` injected, as DSS does."""
        try:
            import flask
            from flask.testing import FlaskClient
        except ImportError as e:  # pragma: no cover - flask is a test requirement
            raise RuntimeError("webapp tests need flask (pip install flask==3.1.3)") from e
        backend = self.plugin_root / "webapps" / webapp_id / "backend.py"
        _read_strict_json(backend.parent / "webapp.json")
        run_dir = self._new_run_dir(f"webapp-{webapp_id}")
        env = self._base_env(self._spec(run_dir, apiClient=api_client, allowDirectAccess=allow_direct_access))
        env.update({
            "DKU_CUSTOM_WEBAPP_CONFIG": json.dumps(config),
            "DKU_PLUGIN_CONFIG": json.dumps(plugin_config or {}),
            "DKU_CUSTOM_RESOURCE_FOLDER": self._resource_dir(),
        })
        double = InProcessDouble(env, self._python_path(), self.plugin_root / "python-lib")
        app = flask.Flask(f"dss_webapp_{webapp_id.replace('-', '_')}")
        code = compile(backend.read_text(encoding="utf-8"), str(backend), "exec")
        with double:
            exec(code, {"app": app, "__name__": "dku_webapp_backend", "__file__": str(backend)})

        class DoubleClient(app.test_client_class or FlaskClient):
            def open(self, *args: Any, **kwargs: Any):
                kwargs.setdefault("buffered", True)
                with double:
                    return super().open(*args, **kwargs)

        app.test_client_class = DoubleClient
        return app.test_client()


class InProcessDouble:
    """Context manager that installs the double (env vars, sys.path, ``dataiku`` modules) and removes it again.

    Modules imported inside (the double, and python-lib modules bound to it) are kept aside between entries,
    so a webapp's handlers see the same ``dataiku`` each request while the test process stays clean.
    """

    def __init__(self, env: dict[str, str], paths: list[str], lib_dir: Path):
        self.env = env
        self.paths = paths
        self.lib_dir = str(lib_dir)
        self.modules: dict[str, types.ModuleType] = {}

    @staticmethod
    def _is_double(name: str) -> bool:
        return name == "dataiku" or name.startswith("dataiku.")

    def _bound_to_double(self, module: types.ModuleType) -> bool:
        if not (getattr(module, "__file__", None) or "").startswith(self.lib_dir):
            return False
        for value in list(vars(module).values()):
            mod_name = value.__name__ if isinstance(value, types.ModuleType) else getattr(value, "__module__", "")
            if isinstance(mod_name, str) and self._is_double(mod_name):
                return True
        return False

    def __enter__(self) -> "InProcessDouble":
        self._saved_env = {k: os.environ.get(k) for k in self.env}
        os.environ.update(self.env)
        self._saved_path = list(sys.path)
        sys.path[:0] = self.paths
        self._saved_modules = {n: m for n, m in sys.modules.items() if self._is_double(n) or n in self.modules}
        for name in self._saved_modules:
            del sys.modules[name]
        sys.modules.update(self.modules)
        self._before = set(sys.modules) - set(self.modules)
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        for name in list(sys.modules):
            module = sys.modules[name]
            if name in self.modules or (name not in self._before and (
                    self._is_double(name) or self._bound_to_double(module))):
                self.modules[name] = sys.modules.pop(name)
        sys.modules.update(self._saved_modules)
        sys.path[:] = self._saved_path
        for key, value in self._saved_env.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
