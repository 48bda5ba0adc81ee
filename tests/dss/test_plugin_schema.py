"""The plugin's descriptors follow the documented DSS rules, and each rule of the checker catches its error."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Callable

import pytest

from dss_harness import DOUBLE_DIR, REPO_ROOT
from plugin_schema import check_dataiku_imports, check_plugin, component_code_files, visibility_references


def test_repository_plugin_passes():
    assert check_plugin(REPO_ROOT) == []


def test_component_code_only_uses_what_the_double_implements():
    files = component_code_files(REPO_ROOT) + sorted((REPO_ROOT / "python-lib/street2shop/dss").rglob("*.py"))
    assert check_dataiku_imports(files, DOUBLE_DIR, REPO_ROOT) == []


# ----------------------------------------------------------------------------- a valid plugin, then one fault each

def _json(path: Path, obj: object) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(obj, indent=2))


def _text(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


RECIPE = "custom-recipes/street2shop-embed/recipe.json"
STEP = "python-steps/street2shop-check/step.json"
MACRO = "python-runnables/street2shop-download/runnable.json"
WEBAPP = "webapps/street2shop-browse/webapp.json"


def make_valid_plugin(root: Path) -> Path:
    _json(root / "plugin.json", {"id": "street2shop", "version": "1.0.0",
                                 "meta": {"label": "S2S", "icon": "icon-picture", "recipesCategory": "code",
                                          "tags": ["Image"]}, "params": []})
    _json(root / "code-env/python/desc.json", {"acceptedPythonInterpreters": ["PYTHON311"],
                                               "installCorePackages": True, "forceConda": False})
    _text(root / "code-env/python/spec/requirements.txt", "numpy>=2.0,<3\npandas>=2.2,<3  # DSS core\nfaiss-cpu==1.15.1\n")
    _json(root / RECIPE, {
        "meta": {"label": "Embed", "icon": "icon-picture", "iconColor": "blue"},
        "kind": "PYTHON",
        "selectableFromFolder": "images",
        "inputRoles": [
            {"name": "images", "label": "Images", "arity": "UNARY", "required": True,
             "acceptsDataset": False, "acceptsManagedFolder": True},
            {"name": "manifest", "label": "Manifest", "arity": "UNARY", "required": True, "acceptsDataset": True},
        ],
        "outputRoles": [{"name": "index", "label": "Index", "arity": "UNARY", "required": True,
                         "acceptsDataset": False, "acceptsManagedFolder": True}],
        "params": [
            {"type": "SEPARATOR", "label": "Search"},
            {"name": "top_k", "label": "Top k", "type": "INT", "defaultValue": 5, "minI": 1, "maxI": 100},
            {"name": "mode", "label": "Mode", "type": "SELECT", "defaultValue": "fast",
             "selectChoices": [{"value": "fast", "label": "Fast"}, {"value": "exact", "label": "Exact"}]},
            {"name": "flags", "label": "Flags", "type": "MULTISELECT", "defaultValue": ["a"],
             "selectChoices": [{"value": "a", "label": "A"}, {"value": "b", "label": "B"}]},
            {"name": "threshold", "label": "Threshold", "type": "DOUBLE", "defaultValue": 0.5, "minD": 0, "maxD": 1,
             "visibilityCondition": "model.mode == 'exact' && !model['top_k']"},
            {"name": "label_col", "label": "Label", "type": "COLUMN", "columnRole": "manifest"},
            {"name": "use_gpu", "label": "GPU", "type": "BOOLEAN", "defaultValue": False},
            {"name": "names", "label": "Names", "type": "STRINGS", "defaultValue": ["x"]},
            {"name": "extra", "label": "Extra", "type": "MAP", "defaultValue": {}},
        ],
        "resourceKeys": [],
    })
    _text(root / "custom-recipes/street2shop-embed/recipe.py", "import dataiku\n")
    _json(root / STEP, {"meta": {"label": "Check"},
                        "params": [{"name": "folder", "label": "Folder", "type": "MANAGED_FOLDER", "mandatory": True},
                                   {"name": "conn", "label": "Connection", "type": "CONNECTION"}]})  # documented type
    _text(root / "python-steps/street2shop-check/step.py", "pass\n")
    _json(root / MACRO, {"meta": {"label": "Download", "icon": "icon-cloud-download"}, "impersonate": False,
                         "permissions": ["WRITE_CONF"], "resultType": "HTML",
                         "macroRoles": [{"type": "MANAGED_FOLDER", "targetParamsKey": "folder"}],
                         "params": [{"name": "folder", "label": "Folder", "type": "MANAGED_FOLDER"}]})
    _text(root / "python-runnables/street2shop-download/runnable.py",
          "from dataiku.runnables import Runnable\n\nclass Download(Runnable):\n    pass\n")
    _json(root / WEBAPP, {"meta": {"label": "Browse"}, "baseType": "STANDARD", "hasBackend": "true",
                          "standardWebAppLibraries": ["jquery", "dataiku"],
                          "roles": [{"type": "DATASET", "targetParamsKey": "table"}],
                          "params": [{"name": "folder", "label": "Folder", "type": "MANAGED_FOLDER"},
                                     {"name": "table", "label": "Table", "type": "DATASET"}]})
    for name in ("backend.py", "body.html", "app.js"):
        _text(root / "webapps/street2shop-browse" / name, "\n")
    return root


def edit(rel: str, change: Callable[[dict], None]) -> Callable[[Path], None]:
    def apply(root: Path) -> None:
        obj = json.loads((root / rel).read_text())
        change(obj)
        (root / rel).write_text(json.dumps(obj))
    return apply


def param(obj: dict, name: str) -> dict:
    return next(p for p in obj["params"] if p.get("name") == name)


def set_param(param_name: str, **fields) -> Callable[[dict], None]:
    return lambda obj: param(obj, param_name).update(fields)


def in_role(obj: dict, name: str) -> dict:
    return next(r for r in obj["inputRoles"] if r["name"] == name)


def write(rel: str, text: str) -> Callable[[Path], None]:
    return lambda root: _text(root / rel, text)


def delete(rel: str) -> Callable[[Path], None]:
    return lambda root: (root / rel).unlink()


def rename_recipe(root: Path) -> None:
    (root / "custom-recipes/street2shop-embed").rename(root / "custom-recipes/embed")


FAULTS = {
    "comments": (write("plugin.json", '{\n  // the id\n  "id": "street2shop"\n}'), "comments are not allowed"),
    "duplicate_key": (write("plugin.json", '{"id": "a", "id": "b"}'), "duplicate key 'id'"),
    "nan": (write(STEP, '{"meta": {"label": "x"}, "params": [], "x": NaN}'), "NaN is not valid JSON"),
    "bad_plugin_id": (edit("plugin.json", lambda o: o.update(id="street 2 shop")), "id 'street 2 shop'"),
    "bad_version": (edit("plugin.json", lambda o: o.update(version="one")), "semantic"),
    "no_label": (edit("plugin.json", lambda o: o["meta"].pop("label")), "plugin.json: meta.label is required"),
    "bad_icon": (edit(STEP, lambda o: o["meta"].update(icon="picture")), "FontAwesome"),
    "bad_category": (edit("plugin.json", lambda o: o["meta"].update(recipesCategory="ml")), "recipesCategory"),
    "bad_interpreter": (edit("code-env/python/desc.json", lambda o: o.update(acceptedPythonInterpreters=["3.11"])),
                        "interpreter name"),
    "no_requirements": (delete("code-env/python/spec/requirements.txt"), "requirements.txt: missing"),
    "no_desc": (delete("code-env/python/desc.json"), "desc.json: missing"),
    "unprefixed_id": (rename_recipe, "must start with 'street2shop-'"),
    "no_recipe_py": (delete("custom-recipes/street2shop-embed/recipe.py"), "recipe.py is missing"),
    "bad_kind": (edit(RECIPE, lambda o: o.update(kind="R")), "only PYTHON"),
    "bad_icon_color": (edit(RECIPE, lambda o: o["meta"].update(iconColor="teal")), "iconColor"),
    "bad_arity": (edit(RECIPE, lambda o: in_role(o, "images").update(arity="ONE")), "arity must be UNARY or NARY"),
    "required_not_bool": (edit(RECIPE, lambda o: in_role(o, "images").update(required="true")),
                          "'required' must be a boolean"),
    "accepts_not_bool": (edit(RECIPE, lambda o: in_role(o, "images").update(acceptsManagedFolder="yes")),
                         "'acceptsManagedFolder' must be a boolean"),
    "folder_role_default": (edit(RECIPE, lambda o: in_role(o, "images").pop("acceptsDataset")),
                            "leaves acceptsDataset unset"),
    "role_accepts_nothing": (edit(RECIPE, lambda o: in_role(o, "manifest").update(acceptsDataset=False)),
                             "accepts nothing"),
    "duplicate_role": (edit(RECIPE, lambda o: in_role(o, "manifest").update(name="images")), "duplicate role name"),
    "duplicate_param": (edit(RECIPE, lambda o: param(o, "mode").update(name="top_k")), "duplicate param name"),
    "param_bad_name": (edit(RECIPE, set_param("use_gpu", name="use-gpu")), "valid Python/JS identifier"),
    "param_no_label": (edit(RECIPE, lambda o: param(o, "use_gpu").pop("label")), "missing 'label'"),
    "param_no_type": (edit(RECIPE, lambda o: param(o, "use_gpu").pop("type")), "missing 'type'"),
    "param_folder_type": (edit(STEP, set_param("folder", type="FOLDER")), "(use MANAGED_FOLDER)"),
    "param_unknown_type": (edit(STEP, set_param("folder", type="FILE")), "not a documented parameter type"),
    "int_default_float": (edit(RECIPE, set_param("top_k", defaultValue=5.0)), "does not match type INT"),
    "int_default_bool": (edit(RECIPE, set_param("top_k", defaultValue=True)), "does not match type INT"),
    "double_default_str": (edit(RECIPE, set_param("threshold", defaultValue="0.5")), "does not match type DOUBLE"),
    "bool_default_str": (edit(RECIPE, set_param("use_gpu", defaultValue="false")), "does not match type BOOLEAN"),
    "strings_default_str": (edit(RECIPE, set_param("names", defaultValue="x")), "does not match type STRINGS"),
    "map_default_list": (edit(RECIPE, set_param("extra", defaultValue=[])), "does not match type MAP"),
    "mandatory_not_bool": (edit(STEP, set_param("folder", mandatory="yes")), "'mandatory' must be a boolean"),
    "select_no_choices": (edit(RECIPE, lambda o: param(o, "mode").pop("selectChoices")),
                          "needs selectChoices or getChoicesFromPython"),
    "select_default_not_choice": (edit(RECIPE, set_param("mode", defaultValue="slow")), "not among the selectChoices"),
    "multiselect_default": (edit(RECIPE, set_param("flags", defaultValue=["a", "z"])), "'z' is not among"),
    "choice_without_label": (edit(RECIPE, set_param("mode", selectChoices=[{"value": "fast"}])), "'value' and 'label'"),
    "python_choices_no_setup": (edit(RECIPE, lambda o: (param(o, "mode").pop("selectChoices"),
                                                       param(o, "mode").pop("defaultValue"),
                                                       param(o, "mode").update(getChoicesFromPython=True))),
                                "needs paramsPythonSetup"),
    "setup_file_missing": (edit(RECIPE, lambda o: o.update(paramsPythonSetup="helpers/choices.py")),
                           "not a file under resource/"),
    "min_above_max": (edit(RECIPE, set_param("top_k", minI=10, maxI=2)), "minI 10 is greater than maxI 2"),
    "default_below_min": (edit(RECIPE, set_param("top_k", minI=10)), "below minI 10"),
    "default_above_max": (edit(RECIPE, set_param("threshold", maxD=0.1)), "above maxD 0.1"),
    "column_role_unknown": (edit(RECIPE, set_param("label_col", columnRole="labels")), "columnRole 'labels'"),
    "column_param_in_step": (edit(STEP, lambda o: o["params"].append(
        {"name": "col", "label": "Col", "type": "COLUMN", "columnRole": "x"})), "exist only in recipes"),
    "visibility_unknown": (edit(RECIPE, set_param("threshold", visibilityCondition="model.modes == 'exact'")),
                           "references unknown param 'modes'"),
    "visibility_unknown_bracket": (edit(RECIPE, set_param("threshold", visibilityCondition="model[\"gpu\"]")),
                                   "references unknown param 'gpu'"),
    "selectable_unknown_role": (edit(RECIPE, lambda o: o.update(selectableFromFolder="pictures")),
                                "selectableFromFolder 'pictures'"),
    "selectable_wrong_kind": (edit(RECIPE, lambda o: o.update(selectableFromFolder="manifest")),
                              "does not set acceptsManagedFolder"),
    "no_params": (edit(RECIPE, lambda o: o.pop("params")), "needs 'params'"),
    "credential_outside_set": (edit(STEP, lambda o: o["params"].append(
        {"name": "cred", "label": "Cred", "type": "CREDENTIAL_REQUEST"})), "only allowed inside a parameter set"),
    "no_step_py": (delete("python-steps/street2shop-check/step.py"), "step.py is missing"),
    "bad_result_type": (edit(MACRO, lambda o: o.update(resultType="JSON")), "resultType 'JSON'"),
    "bad_permission": (edit(MACRO, lambda o: o.update(permissions=["WRITE"])), "permissions"),
    "bad_macro_role": (edit(MACRO, lambda o: o["macroRoles"][0].update(type="FOLDER")), "macroRoles[0]: type"),
    "macro_role_target": (edit(MACRO, lambda o: o["macroRoles"][0].update(targetParamsKey="dest")),
                          "target param 'dest'"),
    "impersonate_not_bool": (edit(MACRO, lambda o: o.update(impersonate="false")), "'impersonate' must be a boolean"),
    "two_runnables": (write("python-runnables/street2shop-download/runnable.py",
                            "from dataiku.runnables import Runnable\nclass A(Runnable): pass\nclass B(Runnable): pass\n"),
                      "exactly one Runnable subclass (found 2)"),
    "no_runnable_py": (delete("python-runnables/street2shop-download/runnable.py"), "runnable.py is missing"),
    "bad_base_type": (edit(WEBAPP, lambda o: o.update(baseType="FLASK")), "baseType 'FLASK'"),
    "bad_has_backend": (edit(WEBAPP, lambda o: o.update(hasBackend="yes")), "hasBackend must be"),
    "no_backend": (delete("webapps/street2shop-browse/backend.py"), "backend.py is missing"),
    "no_body": (delete("webapps/street2shop-browse/body.html"), "body.html is missing"),
    "webapp_role_target": (edit(WEBAPP, lambda o: o["roles"][0].update(targetParamsKey="x")), "target param 'x'"),
    "webapp_folder_role": (edit(WEBAPP, lambda o: o["roles"][0].update(type="MANAGED_FOLDER", targetParamsKey="folder")),
                           "a 'MANAGED_FOLDER' role hides it from 'New webapp'"),
    "core_package_pinned": (write("code-env/python/spec/requirements.txt", "numpy==2.4.6\n"),
                            "pins a package DSS installs itself"),
    "pandas_3": (write("code-env/python/spec/requirements.txt", "pandas==3.1.1\n"), "excludes pandas 2.x"),
    "pandas_unbounded": (write("code-env/python/spec/requirements.txt", "pandas>=2.2\n"), "lets a fresh install take pandas 3"),
    "webapp_libraries": (edit(WEBAPP, lambda o: o.update(standardWebAppLibraries="jquery")),
                         "standardWebAppLibraries"),
}


def test_valid_plugin_passes(tmp_path):
    assert check_plugin(make_valid_plugin(tmp_path)) == []


@pytest.mark.parametrize("fault", sorted(FAULTS))
def test_each_rule_catches_its_fault(tmp_path, fault):
    root = make_valid_plugin(tmp_path)
    mutate, expected = FAULTS[fault]
    mutate(root)
    problems = check_plugin(root)
    assert any(expected in p for p in problems), problems


def test_visibility_references():
    assert visibility_references("model.a == 'x' && !model['b'] || model [\"c\"] > 1 && other.d") == ["a", "b", "c"]


def test_import_checker_flags_what_the_double_lacks(tmp_path):
    code = tmp_path / "recipe.py"
    code.write_text(
        "import dataiku\n"
        "import dataiku.spark\n"
        "from dataiku.customrecipe import get_recipe_config, get_input_names_for_role\n"
        "from dataiku.customrecipe import get_recipe_configuration\n"
        "from dataiku.runnables import Runnable, ResultTable\n"
        "from dataiku.apinode import DkuCustomApiException\n"
        "import dataiku.customstep as cs\n"
        "dataiku.Dataset('x'); dataiku.Folder('y'); dataiku.api_client()\n"
        "dataiku.use_plugin_libs('p')\n"
        "cs.get_step_config(); cs.get_step_cfg()\n")
    problems = check_dataiku_imports([code], DOUBLE_DIR, tmp_path)
    assert len(problems) == 5, problems
    assert any("dataiku.apinode.DkuCustomApiException" in p for p in problems)  # empty in DSS 9
    assert any("module dataiku.spark" in p for p in problems)
    assert any("dataiku.customrecipe.get_recipe_configuration" in p for p in problems)
    assert any("dataiku.use_plugin_libs" in p for p in problems)
    assert any("dataiku.customstep.get_step_cfg" in p for p in problems)
