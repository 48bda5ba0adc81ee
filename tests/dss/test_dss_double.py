"""Tests of the DSS double and harness, through tiny throwaway plugin components run as DSS would run them."""

from __future__ import annotations

import json
import os
import sys
import textwrap
from pathlib import Path

import pandas as pd
import pytest

from dss_harness import DOUBLE_DIR, DSSProject, InProcessDouble
from plugin_schema import check_plugin

PROBE_RECIPE_JSON = {
    "meta": {"label": "Probe", "description": "Exercises the double", "icon": "icon-cogs"},
    "kind": "PYTHON",
    "selectableFromDataset": "table",
    "inputRoles": [
        {"name": "table", "label": "Table", "arity": "UNARY", "required": True, "acceptsDataset": True},
        {"name": "images", "label": "Images", "arity": "UNARY", "required": False,
         "acceptsDataset": False, "acceptsManagedFolder": True},
    ],
    "outputRoles": [
        {"name": "out", "label": "Out", "arity": "UNARY", "required": True, "acceptsDataset": True},
        {"name": "files", "label": "Files", "arity": "UNARY", "required": True,
         "acceptsDataset": False, "acceptsManagedFolder": True},
        {"name": "extra", "label": "Extra", "arity": "NARY", "required": False, "acceptsDataset": True},
    ],
    "params": [
        {"name": "action", "label": "Action", "type": "SELECT", "defaultValue": "copy",
         "selectChoices": [{"value": v, "label": v} for v in ("copy", "checks", "undeclared", "get_path")]},
    ],
}

PROBE_RECIPE_PY = '''
import io
import json

import dataiku
from dataiku.customrecipe import (get_input_names_for_role, get_output_names_for_role, get_plugin_config,
                                  get_recipe_config, get_recipe_resource)

cfg = get_recipe_config()
action = cfg["action"]
table = dataiku.Dataset(get_input_names_for_role("table")[0])
out = dataiku.Dataset(get_output_names_for_role("out")[0])
files = dataiku.Folder(get_output_names_for_role("files")[0])



def api_client_error():
    try:
        dataiku.api_client()
    except Exception as err:
        return str(err)


if action == "copy":
    df = table.get_dataframe()
    df["rows_seen"] = len(df)
    out.write_with_schema(df)
    with files.get_writer("report/summary.json") as w:
        w.write(json.dumps({"rows": len(df)}).encode("utf-8"))
    files.upload_stream("raw.bin", io.BytesIO(b"\\x00\\x01payload"))
    files.write_json("facts.json", {
        "inputs_full": get_input_names_for_role("table"),
        "inputs_short": get_input_names_for_role("table", full=False),
        "flow_variables": dataiku.get_flow_variables(),
        "module_flow_variables": dataiku.dku_flow_variables,
        "resource": get_recipe_resource(),
        "plugin_config": get_plugin_config(),
        "project_key": dataiku.default_project_key(),
        "api_client_error": api_client_error(),
    })
elif action == "undeclared":
    dataiku.Dataset("not_in_flow")
elif action == "get_path":
    dataiku.Folder(get_input_names_for_role("images")[0]).get_path()
elif action == "checks":
    facts = {}

    def attempt(key, fn):
        try:
            fn()
            facts[key] = None
        except Exception as err:
            facts[key] = str(err)

    images = dataiku.Folder(get_input_names_for_role("images")[0])
    empty = dataiku.Dataset(get_output_names_for_role("extra")[0])
    attempt("file_path", lambda: images.file_path("a.jpg"))
    attempt("escape_write", lambda: files.upload_data("../evil.txt", b"x"))
    attempt("escape_read", lambda: images.get_download_stream("sub/../../x"))
    attempt("missing", lambda: images.get_download_stream("nope.jpg"))
    attempt("set_write_partition", lambda: out.set_write_partition("p"))
    out.write_schema([{"name": "code", "type": "string"}])
    attempt("read_output", lambda: out.get_dataframe())
    attempt("no_schema", lambda: empty.write_dataframe(table.get_dataframe()))

    def write_one_tuple():
        with empty.get_writer() as writer:
            writer.write_tuple([1])

    attempt("writer_before_schema", write_one_tuple)
    empty.write_schema([{"name": "code", "type": "string"}])
    attempt("unknown_column", lambda: empty.write_dataframe(table.get_dataframe()))

    def write_text():
        with files.get_writer("t.txt") as writer:
            writer.write("text")

    attempt("folder_writer_str", write_text)
    facts["api_user"] = dataiku.api_client().get_auth_info()["authIdentifier"]
    facts["inferred_codes"] = table.get_dataframe()["code"].tolist()
    facts["schema_codes"] = table.get_dataframe(infer_with_pandas=False)["code"].tolist()
    facts["head"] = len(table.get_dataframe(limit=1))
    facts["chunks"] = [len(c) for c in table.iter_dataframes(chunksize=1)]
    facts["rows"] = [[r["code"], r["n"]] for r in table.iter_rows()]
    facts["variables"] = dataiku.get_custom_variables()
    facts["typed_variables"] = dataiku.get_custom_variables(typed=True)
    with images.get_download_stream("/a.jpg") as stream:
        facts["seekable"] = stream.seekable()
        attempt("seek", lambda: stream.seek(0))
        facts["content"] = stream.read().decode()
    facts["listing"] = images.list_paths_in_partition()
    facts["details_children"] = [c["fullPath"] for c in images.get_path_details("/")["children"]]

    files.upload_data("big.bin", b"old")
    with files.get_writer("big.bin") as w:
        w.write(b"new")
        with files.get_download_stream("big.bin") as s:
            facts["replaced_during_write"] = s.read().decode()
    with files.get_download_stream("big.bin") as s:
        facts["replaced_after_close"] = s.read().decode()
    w = files.get_writer("fresh.bin")
    w.write(b"abc")
    facts["fresh_listed_during_write"] = "/fresh.bin" in files.list_paths_in_partition()
    facts["fresh_exists_during_write"] = files.get_path_details("/fresh.bin")["exists"]
    attempt("second_writer", lambda: files.get_writer("other.bin"))
    w.close()
    facts["fresh_listed_after_close"] = "/fresh.bin" in files.list_paths_in_partition()
    files.write_json("checks.json", facts)
'''

STEP_PY = '''
import dataiku
from dataiku.customstep import get_plugin_config, get_step_config, get_step_resource
from dataiku.scenario import Scenario

cfg = get_step_config()
scenario = Scenario()
scenario.set_scenario_variables(threshold=cfg["threshold"], plugin_key=get_plugin_config()["key"],
                                resource=get_step_resource())
scenario.build_dataset("table", build_mode="NON_RECURSIVE_FORCED_BUILD")
scenario.get_message_sender("mail").send(subject="gate", message="checked")
all_vars = scenario.get_all_variables()
scenario.set_scenario_variables(seen_var=all_vars["myvar"], trigger=scenario.get_trigger_type())
if cfg["threshold"] > 0.5:
    raise ValueError(f"drift {cfg['threshold']} is over the limit")
'''

RUNNABLE_PY = '''
import dataiku
from dataiku.runnables import ResultTable, Runnable


class CountFiles(Runnable):
    def __init__(self, project_key, config, plugin_config):
        self.project_key = project_key
        self.config = config
        self.plugin_config = plugin_config
        self.folder = dataiku.Folder(config["folder"])

    def get_progress_target(self):
        return (len(self.folder.list_paths_in_partition()), "FILES")

    def run(self, progress_callback):
        table = ResultTable()
        table.add_column("path", "Path", "STRING")
        table.add_column("size", "Size", "STRING")
        for i, path in enumerate(self.folder.list_paths_in_partition(), 1):
            with self.folder.get_download_stream(path) as stream:
                table.add_record([path, str(len(stream.read()))])
            progress_callback(i)
        table.set_name(self.project_key + self.plugin_config["suffix"])
        return table
'''

BACKEND_PY = '''
from dataiku.customwebapp import get_webapp_config
from flask import jsonify, request

from probe_lib.dss_io import read_text

config = get_webapp_config()


@app.route("/hello")
def hello():
    return jsonify({"text": read_text(config["folder"], request.args["file"]), "greeting": config["greeting"]})
'''

DSS_IO_PY = '''
import dataiku


def read_text(folder_id, path):
    with dataiku.Folder(folder_id).get_download_stream(path) as stream:
        return stream.read().decode()
'''

FAKE_CLIENT_PY = '''
class FakeClient:
    def get_auth_info(self):
        return {"authIdentifier": "tester"}


def make():
    return FakeClient()
'''


def _write(path: Path, content: str | dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(content, indent=2) if isinstance(content, dict) else textwrap.dedent(content))


def make_plugin(root: Path) -> Path:
    """A throwaway plugin with one recipe, step, macro and webapp."""
    _write(root / "plugin.json", {"id": "street2shop", "version": "0.0.1", "meta": {"label": "Probe plugin"},
                                  "params": []})
    _write(root / "code-env/python/desc.json", {"acceptedPythonInterpreters": ["PYTHON311"],
                                                "installCorePackages": True})
    _write(root / "code-env/python/spec/requirements.txt", "pandas\n")
    _write(root / "python-lib/probe_lib/__init__.py", "")
    _write(root / "python-lib/probe_lib/dss_io.py", DSS_IO_PY)
    (root / "resource").mkdir()
    _write(root / "custom-recipes/street2shop-probe/recipe.json", PROBE_RECIPE_JSON)
    _write(root / "custom-recipes/street2shop-probe/recipe.py", PROBE_RECIPE_PY)
    _write(root / "python-steps/street2shop-gate/step.json", {
        "meta": {"label": "Gate"},
        "params": [{"name": "threshold", "label": "Threshold", "type": "DOUBLE", "defaultValue": 0.5}]})
    _write(root / "python-steps/street2shop-gate/step.py", STEP_PY)
    _write(root / "python-runnables/street2shop-count/runnable.json", {
        "meta": {"label": "Count"}, "resultType": "RESULT_TABLE", "permissions": ["READ_CONF"],
        "macroRoles": [{"type": "MANAGED_FOLDER", "targetParamsKey": "folder"}],
        "params": [{"name": "folder", "label": "Folder", "type": "MANAGED_FOLDER"}]})
    _write(root / "python-runnables/street2shop-count/runnable.py", RUNNABLE_PY)
    _write(root / "webapps/street2shop-view/webapp.json", {
        "meta": {"label": "View"}, "baseType": "STANDARD", "hasBackend": "true",
        "params": [{"name": "folder", "label": "Folder", "type": "MANAGED_FOLDER"},
                   {"name": "greeting", "label": "Greeting", "type": "STRING"}]})
    _write(root / "webapps/street2shop-view/backend.py", BACKEND_PY)
    _write(root / "webapps/street2shop-view/body.html", "<div id='x'></div>\n")
    _write(root / "webapps/street2shop-view/app.js", "// nothing\n")
    return root


@pytest.fixture(scope="module")
def plugin_root(tmp_path_factory) -> Path:
    return make_plugin(tmp_path_factory.mktemp("plugin"))


@pytest.fixture
def project(tmp_path, plugin_root) -> DSSProject:
    proj = DSSProject(tmp_path / "dss", plugin_root=plugin_root)
    proj.add_dataset("table", partitions={
        "2024-01-01": pd.DataFrame({"code": ["007", "010"], "n": [1, 2]}),
        "2024-01-02": pd.DataFrame({"code": ["042"], "n": [3]}),
        "2024-01-03": pd.DataFrame({"code": ["999"], "n": [4]}),
    }, partitioning_dimension="day")
    proj.add_folder("imgs", name="Images", files={"a.jpg": b"AAA", "sub/b.jpg": b"BB"})
    proj.add_dataset("out")
    proj.add_folder("outfiles", name="Out files")
    return proj


def test_probe_plugin_passes_the_schema_checker(plugin_root):
    assert check_plugin(plugin_root) == []


def test_recipe_reads_the_flow_partitions_and_writes_dataset_and_folder(project, plugin_root):
    project.run_recipe("street2shop-probe", inputs={"table": ["table"], "images": ["imgs"]},
                       outputs={"out": ["out"], "files": ["outfiles"]}, config={"action": "copy"},
                       plugin_config={"key": "k"}, read_partitions={"table": ["2024-01-01", "2024-01-02"]},
                       flow_variables={"EXTRA": "1"})
    out = project.read_dataset("out")
    assert out["n"].tolist() == [1, 2, 3]  # both read partitions, in order; not the third
    assert out["rows_seen"].tolist() == [3, 3, 3]
    assert [c["type"] for c in project.dataset_schema("out")] == ["bigint", "bigint", "bigint"]
    files = project.folder_files("outfiles")
    assert sorted(files) == ["facts.json", "raw.bin", "report/summary.json"]
    assert json.loads(files["report/summary.json"].read_text()) == {"rows": 3}
    assert files["raw.bin"].read_bytes() == b"\x00\x01payload"
    facts = json.loads(files["facts.json"].read_text())
    assert facts["inputs_full"] == ["TESTPROJ.table"]
    assert facts["inputs_short"] == ["table"]
    assert facts["flow_variables"] == {"EXTRA": "1"} == facts["module_flow_variables"]
    assert facts["resource"] == str(plugin_root / "resource")
    assert facts["plugin_config"] == {"key": "k"}
    assert facts["project_key"] == "TESTPROJ"
    assert "No DSS API client is available" in facts["api_client_error"]


def test_flow_variables_name_source_and_target_partitions(project):
    project.add_dataset("daily", partitioning_dimension="day")
    project.run_recipe("street2shop-probe", inputs={"table": ["table"]},
                       outputs={"out": ["daily"], "files": ["outfiles"]}, config={"action": "copy"},
                       read_partitions={"table": ["2024-01-03"]}, write_partition="2024-01-03")
    assert project.dataset_partitions("daily") == ["2024-01-03"]
    assert project.read_dataset("daily", "2024-01-03")["code"].tolist() == [999]
    facts = json.loads(project.folder_files("outfiles")["facts.json"].read_text())
    assert facts["flow_variables"] == {"DKU_SRC_table_day": "2024-01-03", "DKU_DST_day": "2024-01-03"}


def test_undeclared_dataset_is_refused(project):
    proc = project.run_recipe("street2shop-probe", inputs={"table": ["table"]},
                              outputs={"out": ["out"], "files": ["outfiles"]}, config={"action": "undeclared"},
                              check=False)
    assert proc.returncode != 0
    assert "Dataset not_in_flow cannot be used : declare it as input or output" in proc.stderr


def test_get_path_is_refused_like_a_remote_run(project):
    with pytest.raises(AssertionError, match="direct access to folder is not possible"):
        project.run_recipe("street2shop-probe", inputs={"table": ["table"], "images": ["imgs"]},
                           outputs={"out": ["out"], "files": ["outfiles"]}, config={"action": "get_path"})
    allowed = project.run_recipe("street2shop-probe", inputs={"table": ["table"], "images": ["imgs"]},
                                 outputs={"out": ["out"], "files": ["outfiles"]}, config={"action": "get_path"},
                                 allow_direct_access=True)
    assert allowed.returncode == 0


def test_refusals_streams_and_atomic_folder_writer(project, tmp_path):
    fake = tmp_path / "fake_client.py"
    fake.write_text(FAKE_CLIENT_PY)
    project.set_variables({"myvar": 3})
    project.add_dataset("empty")
    project.run_recipe("street2shop-probe", inputs={"table": ["table"], "images": ["imgs"]},
                       outputs={"out": ["out"], "files": ["outfiles"], "extra": ["empty"]},
                       config={"action": "checks"}, read_partitions={"table": ["2024-01-01"]},
                       api_client=f"{fake}:make")
    facts = json.loads(project.folder_files("outfiles")["checks.json"].read_text())
    assert "direct access to folder is not possible" in facts["file_path"]
    assert "escapes the folder root" in facts["escape_write"]
    assert "escapes the folder root" in facts["escape_read"]
    assert "does not exist" in facts["missing"]
    assert "cannot explicitly set partitions" in facts["set_write_partition"]
    assert "not declared as an input" in facts["read_output"]
    assert "No column in schema" in facts["no_schema"]
    assert "No column in schema" in facts["writer_before_schema"]
    assert "not in the schema" in facts["unknown_column"]
    assert "takes bytes" in facts["folder_writer_str"]
    assert facts["api_user"] == "tester"
    assert facts["inferred_codes"] == [7, 10]  # DSS's default pandas inference drops leading zeros
    assert facts["schema_codes"] == ["007", "010"]
    assert facts["head"] == 1
    assert facts["chunks"] == [1, 1]
    assert facts["rows"] == [["007", 1], ["010", 2]]
    assert facts["variables"]["myvar"] == "3" and facts["typed_variables"]["myvar"] == 3
    assert facts["variables"]["projectKey"] == "TESTPROJ"
    assert facts["seekable"] is False and facts["seek"] is not None
    assert facts["content"] == "AAA"
    assert facts["listing"] == ["/a.jpg", "/sub/b.jpg"]
    assert facts["details_children"] == ["/a.jpg", "/sub"]
    assert facts["replaced_during_write"] == "old"
    assert facts["replaced_after_close"] == "new"
    assert facts["fresh_listed_during_write"] is False
    assert facts["fresh_exists_during_write"] is False
    assert "already another active writer" in facts["second_writer"]
    assert facts["fresh_listed_after_close"] is True
    assert not any(p.name.startswith(".staging") for p in project.folder_files("outfiles").values())


def test_run_recipe_checks_role_bindings_against_recipe_json(project):
    base = {"config": {"action": "copy"}}
    with pytest.raises(AssertionError, match="declares no input role 'nope'"):
        project.run_recipe("street2shop-probe", inputs={"table": ["table"], "nope": ["x"]},
                           outputs={"out": ["out"], "files": ["outfiles"]}, **base)
    with pytest.raises(AssertionError, match="required output role 'files' is not bound"):
        project.run_recipe("street2shop-probe", inputs={"table": ["table"]}, outputs={"out": ["out"]}, **base)
    with pytest.raises(AssertionError, match="UNARY but got 2"):
        project.run_recipe("street2shop-probe", inputs={"table": ["table", "table"]},
                           outputs={"out": ["out"], "files": ["outfiles"]}, **base)
    with pytest.raises(AssertionError, match="does not accept managed folders"):
        project.run_recipe("street2shop-probe", inputs={"table": ["imgs"]},
                           outputs={"out": ["out"], "files": ["outfiles"]}, **base)
    with pytest.raises(AssertionError, match="partitioned by 'day': give write_partition"):
        project.add_dataset("daily", partitioning_dimension="day")
        project.run_recipe("street2shop-probe", inputs={"table": ["table"]},
                           outputs={"out": ["daily"], "files": ["outfiles"]}, **base)


def test_outputs_of_single_kind_roles_are_created(project):
    project.run_recipe("street2shop-probe", inputs={"table": ["table"]},
                       outputs={"out": ["new_out"], "files": ["new_files"]}, config={"action": "copy"})
    assert len(project.read_dataset("new_out")) == 4
    assert "facts.json" in project.folder_files("new_files")


def test_datasets_round_trip_as_dss_text(tmp_path, plugin_root):
    proj = DSSProject(tmp_path / "dss", plugin_root=plugin_root)
    df = pd.DataFrame({"code": ["007", "010"], "flag": [True, False], "score": [0.5, None],
                       "when": pd.to_datetime(["2024-01-01 10:00", "2024-06-01 00:00"]), "tags": [["a"], ["b", "c"]]})
    proj.add_dataset("t", df)
    assert proj.dataset_schema("t") == [{"name": "code", "type": "string"}, {"name": "flag", "type": "boolean"},
                                        {"name": "score", "type": "double"}, {"name": "when", "type": "date"},
                                        {"name": "tags", "type": "string"}]
    back = proj.read_dataset("t")
    assert back["code"].tolist() == [7, 10]
    assert back["flag"].tolist() == [True, False]
    assert back["score"].isna().tolist() == [False, True]
    assert str(back["when"].dt.tz) == "UTC" and back["when"].dt.hour.tolist() == [10, 0]
    assert back["tags"].tolist() == ["['a']", "['b', 'c']"]  # lists are str()-ed, as DSS's CSV writer does
    assert proj.dataset_partitions("t") == ["NP"]


def test_partitioned_folder_files_live_under_the_partition(tmp_path, plugin_root):
    proj = DSSProject(tmp_path / "dss", plugin_root=plugin_root)
    proj.add_folder("shots", partitioning_dimension="day",
                    partitions={"d1": {"x.jpg": b"1"}, "d2": {"y/z.jpg": b"2"}})
    assert sorted(proj.folder_files("shots")) == ["d1/x.jpg", "d2/y/z.jpg"]
    assert {k: v.read_bytes() for k, v in proj.folder_files("shots", "d2").items()} == {"y/z.jpg": b"2"}


def test_step_sets_scenario_variables_and_fails_by_raising(project, plugin_root):
    run = project.run_step("street2shop-gate", config={"threshold": 0.9}, plugin_config={"key": "pk"},
                           variables={"myvar": "from-scenario"}, check=False)
    assert run.returncode != 0
    assert "drift 0.9 is over the limit" in run.stderr
    assert run.scenario_variables == {"threshold": 0.9, "plugin_key": "pk", "resource": str(plugin_root / "resource"),
                                      "seen_var": "from-scenario", "trigger": "manual"}
    assert run.recorded_calls[0]["method"] == "build_dataset"
    assert run.recorded_calls[0]["args"]["build_mode"] == "NON_RECURSIVE_FORCED_BUILD"
    assert run.messages == [{"channelId": "mail", "type": None,
                             "params": {"subject": "gate", "message": "checked"}}]


def test_macro_reports_progress_and_returns_a_result_table(project):
    run = project.run_macro("street2shop-count", config={"folder": "Images"}, plugin_config={"suffix": "!"})
    assert run.progress_target == [2, "FILES"]
    assert run.progress == [1, 2]
    assert run.result_kind == "json"
    assert run.result["name"] == "TESTPROJ!"
    assert [c["name"] for c in run.result["columns"]] == ["path", "size"]
    assert run.result["records"] == [["/a.jpg", "3"], ["/sub/b.jpg", "2"]]


def test_webapp_client_serves_a_route_and_leaves_the_process_clean(project):
    client = project.webapp_client("street2shop-view", config={"folder": "imgs", "greeting": "hi"})
    assert "dataiku" not in sys.modules
    assert "DKU_CUSTOM_WEBAPP_CONFIG" not in os.environ
    response = client.get("/hello?file=sub/b.jpg")
    assert response.status_code == 200
    assert response.get_json() == {"text": "BB", "greeting": "hi"}
    assert "dataiku" not in sys.modules and "probe_lib.dss_io" not in sys.modules
    assert "DKU_DOUBLE_ROOT" not in os.environ
    assert client.get("/hello?file=a.jpg").get_json()["text"] == "AAA"


def test_apinode_module_is_empty_as_in_dss9(tmp_path):
    """DSS 9's ``dataiku/apinode/__init__.py`` is empty: the exception class is the function server's, at request time."""
    with InProcessDouble({}, [str(DOUBLE_DIR)], tmp_path):
        import dataiku.apinode

        names = [name for name in vars(dataiku.apinode) if not name.startswith("__")]
        with pytest.raises(ImportError, match="cannot import name 'DkuCustomApiException'"):
            from dataiku.apinode import DkuCustomApiException  # noqa: F401
    assert names == []
    assert "dataiku" not in sys.modules and "dataiku.apinode" not in sys.modules


def test_flow_variables_are_none_outside_a_recipe_as_in_dss9(tmp_path):
    project = DSSProject(tmp_path / "dss")
    run_dir = tmp_path / "step"
    run_dir.mkdir()
    with InProcessDouble(project._base_env(project._spec(run_dir)), [str(DOUBLE_DIR)], tmp_path):
        import dataiku

        outside = dataiku.get_flow_variables()
        has_module_attribute = hasattr(dataiku, "dku_flow_variables")
    assert outside is None and not has_module_attribute
