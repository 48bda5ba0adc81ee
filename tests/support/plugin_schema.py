"""Checks a DSS plugin's descriptors (plugin.json, code env, recipes, steps, macros, webapps) against the documented rules.

``check_plugin(root)`` returns a list of problems, each naming the file and the field at fault; an empty list
means the plugin passes. ``check_dataiku_imports(files, double_dir)`` checks that code only uses the
``dataiku`` modules and names the test double implements. The rules follow
shared/reference/dss-plugin-reference.md (§1, §2, §4–§7).
"""

from __future__ import annotations

import ast
import json
import keyword
import re
from pathlib import Path
from typing import Any

PARAM_TYPES = frozenset("""
STRING STRINGS TEXTAREA PASSWORD INT DOUBLE INTS DOUBLES BOOLEAN DATE
SELECT MULTISELECT MAP KEY_VALUE_LIST ARRAY OBJECT_LIST
DATASET DATASETS DATASET_COLUMN DATASET_COLUMNS MANAGED_FOLDER SAVED_MODEL CODE_ENV CONNECTION CONNECTIONS CLUSTER
PROJECT SCENARIO PLUGIN API_SERVICE API_SERVICE_VERSION BUNDLE VISUAL_ANALYSIS ML_TASK LLM KNOWLEDGE_BANK
COLUMN COLUMNS PRESET PRESETS CREDENTIAL_REQUEST SEPARATOR
""".split())
_STR_TYPES = {"STRING", "TEXTAREA", "PASSWORD", "SELECT", "DATE", "COLUMN", "DATASET", "DATASET_COLUMN",
              "MANAGED_FOLDER", "SAVED_MODEL", "CODE_ENV", "CONNECTION", "CLUSTER", "PROJECT", "SCENARIO", "PLUGIN",
              "API_SERVICE", "API_SERVICE_VERSION", "BUNDLE", "VISUAL_ANALYSIS", "ML_TASK", "LLM", "KNOWLEDGE_BANK"}
_LIST_TYPES = {"STRINGS", "MULTISELECT", "INTS", "DOUBLES", "ARRAY", "COLUMNS", "DATASETS", "DATASET_COLUMNS",
               "KEY_VALUE_LIST", "OBJECT_LIST", "CONNECTIONS", "PRESETS"}
RESULT_TYPES = frozenset(["NONE", "HTML", "URL", "RESULT_TABLE", "FILE", "FOLDER_FILE"])
MACRO_PERMISSIONS = frozenset(["ADMIN", "READ_CONF", "WRITE_CONF"])
MACRO_ROLE_TYPES = frozenset(["DATASET", "DATASETS", "API_SERVICE", "API_SERVICE_VERSION", "BUNDLE",
                              "VISUAL_ANALYSIS", "SAVED_MODEL", "MANAGED_FOLDER", "PROJECT_MACROS",
                              "PROJECT_CREATOR"])
WEBAPP_BASE_TYPES = frozenset(["STANDARD", "BOKEH", "DASH", "SHINY"])
# A webapp's roles put it in a dataset's Actions side panel (developer guide, tutorials/plugins/webapps/generality:
# "roles": [{"type": "DATASET", ...}]); DSS offers no other place for them, so any other role type hides the
# webapp. Folder-based webapps (dss-plugin-ml-assisted-labeling) declare no role and take the folder as a param.
WEBAPP_ROLE_TYPES = frozenset(["DATASET"])
# Packages DSS installs into a code env with installCorePackages (DSS 9.0.5
# resources/code-envs/python/minimal-requirements-*.txt: pandas, python-dateutil, pytz, requests; numpy comes
# with pandas). "If you ... change their versions, the dataiku package cannot work" (code-envs/base-packages).
DSS_CORE_PACKAGES = frozenset(["pandas", "numpy", "python-dateutil", "pytz", "requests"])
#: pandas versions the dataiku package's core package sets hold (2.x; no DSS release mentions pandas 3).
DSS_PANDAS = ("2.2.3", "2.3.3")
ICON_COLORS = frozenset(["red", "pink", "purple", "blue", "green", "sky", "yellow", "orange", "brown", "gray"])
RECIPES_CATEGORIES = frozenset(["visual", "code", "genai", "other"])
_PY_INTERPRETER = re.compile(r"^PYTHON(27|3[0-9]|31[0-4])$")
_PLUGIN_ID = re.compile(r"^[A-Za-z0-9_-]+$")
_MODEL_REF = re.compile(r"\bmodel\s*(?:\.\s*([A-Za-z_$][A-Za-z0-9_$]*)|\[\s*(['\"])(.*?)\2\s*\])")


class _DuplicateKey(ValueError):
    pass


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict:
    seen: dict = {}
    for key, value in pairs:
        if key in seen:
            raise _DuplicateKey(f"duplicate key {key!r}")
        seen[key] = value
    return seen


def _reject_constant(name: str) -> None:
    raise ValueError(f"{name} is not valid JSON")


def load_strict_json(path: Path, problems: list[str], rel: str) -> Any:
    """Parses JSON strictly (no comments, no duplicate keys, no NaN); records a problem and returns None on error."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as e:
        problems.append(f"{rel}: cannot be read ({e})")
        return None
    try:
        return json.loads(text, object_pairs_hook=_no_duplicates, parse_constant=_reject_constant)
    except json.JSONDecodeError as e:
        hint = " (comments are not allowed)" if re.search(r"^\s*(//|/\*)", text, re.M) else ""
        problems.append(f"{rel}: not strict JSON{hint}: {e}")
    except ValueError as e:
        problems.append(f"{rel}: not strict JSON: {e}")
    return None


def _load_object(path: Path, problems: list[str], rel: str) -> dict | None:
    desc = load_strict_json(path, problems, rel)
    if desc is not None and not isinstance(desc, dict):
        problems.append(f"{rel}: must be a JSON object")
        return None
    return desc


def _is_int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _is_number(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def _check_default(where: str, ptype: str, param: dict, problems: list[str]) -> None:
    if "defaultValue" not in param:
        return
    value = param["defaultValue"]
    ok = True
    if ptype == "INT":
        ok = _is_int(value)
    elif ptype == "DOUBLE":
        ok = _is_number(value)
    elif ptype == "BOOLEAN":
        ok = isinstance(value, bool)
    elif ptype in _STR_TYPES:
        ok = isinstance(value, str)
    elif ptype == "MAP":
        ok = isinstance(value, dict)
    elif ptype in _LIST_TYPES:
        ok = isinstance(value, list)
        if ok and ptype == "INTS":
            ok = all(_is_int(v) for v in value)
        elif ok and ptype == "DOUBLES":
            ok = all(_is_number(v) for v in value)
        elif ok and ptype in ("STRINGS", "COLUMNS", "DATASETS"):
            ok = all(isinstance(v, str) for v in value)
    if not ok:
        problems.append(f"{where}: defaultValue {value!r} does not match type {ptype}")


def _check_bounds(where: str, ptype: str, param: dict, problems: list[str]) -> None:
    lo_key, hi_key, check = ("minI", "maxI", _is_int) if ptype == "INT" else ("minD", "maxD", _is_number)
    lo, hi = param.get(lo_key), param.get(hi_key)
    for key, bound in ((lo_key, lo), (hi_key, hi)):
        if bound is not None and not check(bound):
            problems.append(f"{where}: {key} {bound!r} is not a {'whole number' if ptype == 'INT' else 'number'}")
            return
    if lo is not None and hi is not None and lo > hi:
        problems.append(f"{where}: {lo_key} {lo} is greater than {hi_key} {hi}")
    default = param.get("defaultValue")
    if _is_number(default):
        if lo is not None and default < lo:
            problems.append(f"{where}: defaultValue {default} is below {lo_key} {lo}")
        if hi is not None and default > hi:
            problems.append(f"{where}: defaultValue {default} is above {hi_key} {hi}")


def _check_choices(where: str, ptype: str, param: dict, component: dict, problems: list[str]) -> None:
    choices = param.get("selectChoices")
    from_python = param.get("getChoicesFromPython") is True
    if choices is None and not from_python:
        problems.append(f"{where}: {ptype} needs selectChoices or getChoicesFromPython")
        return
    if from_python and not component.get("paramsPythonSetup"):
        problems.append(f"{where}: getChoicesFromPython needs paramsPythonSetup on the component")
    if choices is None:
        return
    if not isinstance(choices, list) or not choices:
        problems.append(f"{where}: selectChoices must be a non-empty list")
        return
    values = []
    for i, choice in enumerate(choices):
        if not isinstance(choice, dict) or "value" not in choice or "label" not in choice:
            problems.append(f"{where}: selectChoices[{i}] needs 'value' and 'label'")
        else:
            values.append(choice["value"])
    if len(set(map(json.dumps, values))) != len(values):
        problems.append(f"{where}: selectChoices values are not unique")
    if "defaultValue" in param:
        default = param["defaultValue"]
        defaults = default if ptype == "MULTISELECT" and isinstance(default, list) else [default]
        for d in defaults:
            if d not in values:
                problems.append(f"{where}: defaultValue {d!r} is not among the selectChoices values {values}")


def visibility_references(expression: str) -> list[str]:
    """Names of the params a ``visibilityCondition`` reads (``model.x`` / ``model['x']``)."""
    return [m.group(1) or m.group(3) for m in _MODEL_REF.finditer(expression)]


def check_params(where: str, params: Any, problems: list[str], *, component: dict | None = None,
                 input_roles: list[str] | None = None, in_parameter_set: bool = False) -> None:
    """Checks a ``params`` list (recipe, step, macro, webapp, plugin or OBJECT_LIST subParams)."""
    component = component or {}
    if not isinstance(params, list):
        problems.append(f"{where}: params must be a list")
        return
    names = [p.get("name") for p in params if isinstance(p, dict) and p.get("type") != "SEPARATOR"]
    name_set = {n for n in names if isinstance(n, str)}
    seen: set[str] = set()
    by_name = {p.get("name"): p for p in params if isinstance(p, dict)}
    for i, param in enumerate(params):
        label = f"{where}: params[{i}]"
        if not isinstance(param, dict):
            problems.append(f"{label} must be an object")
            continue
        ptype = param.get("type")
        name = param.get("name")
        if name is not None:
            label = f"{where}: param {name!r}"
        if ptype is None:
            problems.append(f"{label}: missing 'type'")
            continue
        if ptype not in PARAM_TYPES:
            hint = " (use MANAGED_FOLDER)" if ptype == "FOLDER" else ""
            problems.append(f"{label}: type {ptype!r} is not a documented parameter type{hint}")
            continue
        if ptype != "SEPARATOR":
            if not isinstance(name, str) or not name.isidentifier() or keyword.iskeyword(name):
                problems.append(f"{label}: 'name' must be a valid Python/JS identifier")
            elif name in seen:
                problems.append(f"{label}: duplicate param name")
            else:
                seen.add(name)
        if "label" not in param:
            problems.append(f"{label}: missing 'label'")
        if "mandatory" in param and not isinstance(param["mandatory"], bool):
            problems.append(f"{label}: 'mandatory' must be a boolean")
        _check_default(label, ptype, param, problems)
        if ptype in ("INT", "DOUBLE"):
            _check_bounds(label, ptype, param, problems)
        if ptype in ("SELECT", "MULTISELECT"):
            _check_choices(label, ptype, param, component, problems)
        if ptype in ("COLUMN", "COLUMNS"):
            if input_roles is None:
                problems.append(f"{label}: {ptype} params exist only in recipes")
            elif param.get("columnRole") not in input_roles:
                problems.append(f"{label}: columnRole {param.get('columnRole')!r} is not an input role {input_roles}")
        if ptype in ("DATASET_COLUMN", "DATASET_COLUMNS"):
            ref = by_name.get(param.get("datasetParamName"))
            if not ref or ref.get("type") != "DATASET":
                problems.append(f"{label}: datasetParamName {param.get('datasetParamName')!r} is not a DATASET param")
        if ptype == "API_SERVICE_VERSION":
            ref = by_name.get(param.get("apiServiceParamName"))
            if not ref or ref.get("type") != "API_SERVICE":
                problems.append(f"{label}: apiServiceParamName {param.get('apiServiceParamName')!r} "
                                "is not an API_SERVICE param")
        if ptype == "PRESET" and not param.get("parameterSetId"):
            problems.append(f"{label}: PRESET needs parameterSetId")
        if ptype == "CREDENTIAL_REQUEST" and not in_parameter_set:
            problems.append(f"{label}: CREDENTIAL_REQUEST is only allowed inside a parameter set")
        if ptype == "OBJECT_LIST":
            check_params(f"{label}.subParams", param.get("subParams", []), problems, component=component,
                         input_roles=input_roles, in_parameter_set=in_parameter_set)
        condition = param.get("visibilityCondition")
        if condition is not None:
            if not isinstance(condition, str):
                problems.append(f"{label}: visibilityCondition must be a string")
            else:
                for ref in visibility_references(condition):
                    if ref not in name_set:
                        problems.append(f"{label}: visibilityCondition references unknown param {ref!r}")


def _check_bool_fields(where: str, obj: dict, fields: tuple[str, ...], problems: list[str]) -> None:
    for key in fields:
        if key in obj and not isinstance(obj[key], bool):
            problems.append(f"{where}: '{key}' must be a boolean, got {obj[key]!r}")


def _check_meta(where: str, desc: dict, problems: list[str]) -> dict:
    meta = desc.get("meta")
    if not isinstance(meta, dict):
        problems.append(f"{where}: missing 'meta' object")
        return {}
    if not isinstance(meta.get("label"), str) or not meta["label"].strip():
        problems.append(f"{where}: meta.label is required")
    icon = meta.get("icon")
    if icon is not None and not (isinstance(icon, str) and icon.startswith("icon-")):
        problems.append(f"{where}: meta.icon {icon!r} must be a FontAwesome 'icon-*' name")
    return meta


def _check_resource_file(where: str, root: Path, desc: dict, key: str, problems: list[str]) -> None:
    value = desc.get(key)
    if value is not None and not (root / "resource" / str(value)).is_file():
        problems.append(f"{where}: {key} {value!r} is not a file under resource/")


def _check_roles(where: str, kind: str, roles: Any, problems: list[str]) -> list[dict]:
    if roles is None:
        return []
    if not isinstance(roles, list):
        problems.append(f"{where}: {kind} must be a list")
        return []
    seen: set[str] = set()
    good = []
    for i, role in enumerate(roles):
        label = f"{where}: {kind}[{i}]"
        if not isinstance(role, dict):
            problems.append(f"{label} must be an object")
            continue
        name = role.get("name")
        if not isinstance(name, str) or not name.isidentifier():
            problems.append(f"{label}: 'name' must be an identifier")
        else:
            label = f"{where}: {kind} {name!r}"
            if name in seen:
                problems.append(f"{label}: duplicate role name")
            seen.add(name)
        if role.get("arity") not in ("UNARY", "NARY"):
            problems.append(f"{label}: arity must be UNARY or NARY, got {role.get('arity')!r}")
        _check_bool_fields(label, role, ("required", "acceptsDataset", "acceptsManagedFolder", "acceptsSavedModel"),
                           problems)
        accepts_ds = role.get("acceptsDataset", True)
        others = role.get("acceptsManagedFolder", False) or role.get("acceptsSavedModel", False)
        if role.get("acceptsManagedFolder") is True and "acceptsDataset" not in role:
            problems.append(f"{label}: accepts managed folders but leaves acceptsDataset unset (DSS defaults it "
                            "to true); set it explicitly")
        if accepts_ds is False and not others:
            problems.append(f"{label}: accepts nothing (acceptsDataset false and no other accepts* true)")
        good.append(role)
    return good


def _component_dirs(root: Path, kind_dir: str) -> list[Path]:
    base = root / kind_dir
    return sorted(p for p in base.iterdir() if p.is_dir() and not p.name.startswith(("_", "."))) if base.is_dir() else []


def _check_component_id(rel: str, comp_dir: Path, plugin_id: str | None, problems: list[str]) -> None:
    if plugin_id and not comp_dir.name.startswith(plugin_id + "-"):
        problems.append(f"{rel}: component id (directory name) {comp_dir.name!r} must start with '{plugin_id}-'")
    if not _PLUGIN_ID.match(comp_dir.name):
        problems.append(f"{rel}: component id {comp_dir.name!r} may only use A-Za-z0-9_-")


def _check_recipe(root: Path, comp: Path, plugin_id: str | None, problems: list[str]) -> None:
    rel = f"custom-recipes/{comp.name}/recipe.json"
    _check_component_id(rel, comp, plugin_id, problems)
    if not (comp / "recipe.py").is_file():
        problems.append(f"custom-recipes/{comp.name}: recipe.py is missing")
    desc = _load_object(comp / "recipe.json", problems, rel)
    if desc is None:
        return
    _check_meta(rel, desc, problems)
    meta = desc.get("meta", {})
    if meta.get("iconColor") is not None and meta["iconColor"] not in ICON_COLORS:
        problems.append(f"{rel}: meta.iconColor {meta['iconColor']!r} is not one of {sorted(ICON_COLORS)}")
    if desc.get("kind", "PYTHON") != "PYTHON":
        problems.append(f"{rel}: kind {desc.get('kind')!r}: only PYTHON is documented")
    inputs = _check_roles(rel, "inputRoles", desc.get("inputRoles"), problems)
    _check_roles(rel, "outputRoles", desc.get("outputRoles"), problems)
    input_names = [r.get("name") for r in inputs]
    by_name = {r.get("name"): r for r in inputs}
    for key, accept in (("selectableFromDataset", "acceptsDataset"), ("selectableFromFolder", "acceptsManagedFolder"),
                        ("selectableFromSavedModel", "acceptsSavedModel")):
        if key in desc:
            role = by_name.get(desc[key])
            if role is None:
                problems.append(f"{rel}: {key} {desc[key]!r} is not an input role {input_names}")
            elif not role.get(accept, accept == "acceptsDataset"):
                problems.append(f"{rel}: {key} names role {desc[key]!r}, which does not set {accept}")
    if "params" not in desc and "paramsTemplate" not in desc:
        problems.append(f"{rel}: needs 'params' (or a custom form with paramsTemplate)")
    check_params(rel, desc.get("params", []), problems, component=desc, input_roles=input_names)
    for key in ("paramsPythonSetup", "paramsTemplate"):
        _check_resource_file(rel, root, desc, key, problems)
    if "resourceKeys" in desc and not isinstance(desc["resourceKeys"], list):
        problems.append(f"{rel}: resourceKeys must be a list")


def _check_step(root: Path, comp: Path, plugin_id: str | None, problems: list[str]) -> None:
    rel = f"python-steps/{comp.name}/step.json"
    _check_component_id(rel, comp, plugin_id, problems)
    if not (comp / "step.py").is_file():
        problems.append(f"python-steps/{comp.name}: step.py is missing")
    desc = _load_object(comp / "step.json", problems, rel)
    if desc is None:
        return
    _check_meta(rel, desc, problems)
    check_params(rel, desc.get("params", []), problems, component=desc)
    _check_resource_file(rel, root, desc, "paramsPythonSetup", problems)


def _runnable_classes(path: Path) -> int | None:
    try:
        tree = ast.parse(path.read_text(encoding="utf-8"))
    except (OSError, SyntaxError):
        return None
    count = 0
    for node in tree.body:
        if isinstance(node, ast.ClassDef):
            for base in node.bases:
                if (isinstance(base, ast.Name) and base.id == "Runnable") or (
                        isinstance(base, ast.Attribute) and base.attr == "Runnable"):
                    count += 1
    return count


def _check_target_keys(where: str, role: dict, param_names: set[str], problems: list[str]) -> None:
    if role.get("type") == "API_SERVICE_VERSION":
        keys = role.get("targetParamsKeys")
        if not isinstance(keys, list) or len(keys) != 2:
            problems.append(f"{where}: API_SERVICE_VERSION roles need targetParamsKeys with 2 keys")
            return
    else:
        keys = [role.get("targetParamsKey")]
    for key in keys:
        if key not in param_names:
            problems.append(f"{where}: target param {key!r} is not a param {sorted(param_names)}")


def _check_macro(root: Path, comp: Path, plugin_id: str | None, problems: list[str]) -> None:
    rel = f"python-runnables/{comp.name}/runnable.json"
    _check_component_id(rel, comp, plugin_id, problems)
    code = comp / "runnable.py"
    if not code.is_file():
        problems.append(f"python-runnables/{comp.name}: runnable.py is missing")
    else:
        count = _runnable_classes(code)
        if count is None:
            problems.append(f"python-runnables/{comp.name}/runnable.py: cannot be parsed")
        elif count != 1:
            problems.append(f"python-runnables/{comp.name}/runnable.py: must define exactly one Runnable subclass "
                            f"(found {count})")
    desc = _load_object(comp / "runnable.json", problems, rel)
    if desc is None:
        return
    _check_meta(rel, desc, problems)
    params = desc.get("params", [])
    check_params(rel, params, problems, component=desc)
    if desc.get("resultType", "NONE") not in RESULT_TYPES:
        problems.append(f"{rel}: resultType {desc.get('resultType')!r} is not one of {sorted(RESULT_TYPES)}")
    permissions = desc.get("permissions", [])
    if not isinstance(permissions, list) or any(p not in MACRO_PERMISSIONS for p in permissions):
        problems.append(f"{rel}: permissions {permissions!r} must be a list of {sorted(MACRO_PERMISSIONS)}")
    _check_bool_fields(rel, desc, ("impersonate", "requiresGlobalAdmin"), problems)
    param_names = {p.get("name") for p in params if isinstance(p, dict)} if isinstance(params, list) else set()
    roles = desc.get("macroRoles", [])
    if not isinstance(roles, list):
        problems.append(f"{rel}: macroRoles must be a list")
        roles = []
    for i, role in enumerate(roles):
        where = f"{rel}: macroRoles[{i}]"
        if not isinstance(role, dict) or role.get("type") not in MACRO_ROLE_TYPES:
            problems.append(f"{where}: type must be one of {sorted(MACRO_ROLE_TYPES)}")
            continue
        if role["type"] not in ("PROJECT_MACROS", "PROJECT_CREATOR"):
            _check_target_keys(where, role, param_names, problems)
    _check_resource_file(rel, root, desc, "paramsPythonSetup", problems)


def _check_webapp(root: Path, comp: Path, plugin_id: str | None, problems: list[str]) -> None:
    rel = f"webapps/{comp.name}/webapp.json"
    _check_component_id(rel, comp, plugin_id, problems)
    desc = _load_object(comp / "webapp.json", problems, rel)
    if desc is None:
        return
    _check_meta(rel, desc, problems)
    base_type = desc.get("baseType")
    if base_type not in WEBAPP_BASE_TYPES:
        problems.append(f"{rel}: baseType {base_type!r} is not one of {sorted(WEBAPP_BASE_TYPES)}")
    has_backend = desc.get("hasBackend", "false")
    if has_backend not in ("true", "false", True, False):
        problems.append(f"{rel}: hasBackend must be \"true\" or \"false\", got {has_backend!r}")
    if has_backend in ("true", True) and not (comp / "backend.py").is_file():
        problems.append(f"webapps/{comp.name}: hasBackend is true but backend.py is missing")
    if base_type == "STANDARD":
        for name in ("body.html", "app.js"):
            if not (comp / name).is_file():
                problems.append(f"webapps/{comp.name}: {name} is missing (STANDARD webapp)")
    libs = desc.get("standardWebAppLibraries", [])
    if not isinstance(libs, list) or not all(isinstance(x, str) for x in libs):
        problems.append(f"{rel}: standardWebAppLibraries must be a list of strings")
    params = desc.get("params", [])
    check_params(rel, params, problems, component=desc)
    param_names = {p.get("name") for p in params if isinstance(p, dict)} if isinstance(params, list) else set()
    for i, role in enumerate(desc.get("roles", []) or []):
        where = f"{rel}: roles[{i}]"
        if not isinstance(role, dict) or role.get("type") not in WEBAPP_ROLE_TYPES:
            shown = role.get("type") if isinstance(role, dict) else role
            problems.append(f"{where}: DSS shows a webapp's roles only in a dataset's side panel ({sorted(WEBAPP_ROLE_TYPES)}); "
                            f"a {shown!r} role hides it from 'New webapp': drop the role and keep the param")
            continue
        _check_target_keys(where, role, param_names, problems)
    _check_resource_file(rel, root, desc, "paramsPythonSetup", problems)


def _check_code_env(root: Path, problems: list[str]) -> None:
    env_dir = root / "code-env" / "python"
    rel = "code-env/python/desc.json"
    if not (env_dir / "desc.json").is_file():
        problems.append(f"{rel}: missing")
        return
    desc = load_strict_json(env_dir / "desc.json", problems, rel)
    if isinstance(desc, dict):
        interpreters = desc.get("acceptedPythonInterpreters")
        if not isinstance(interpreters, list) or not interpreters:
            problems.append(f"{rel}: acceptedPythonInterpreters must be a non-empty list")
        else:
            for value in interpreters:
                if not isinstance(value, str) or not _PY_INTERPRETER.match(value):
                    problems.append(f"{rel}: {value!r} is not an interpreter name like PYTHON311")
        _check_bool_fields(rel, desc, ("installCorePackages", "installJupyterSupport", "forceConda", "conda"), problems)
    requirements = env_dir / "spec" / "requirements.txt"
    if not requirements.is_file():
        problems.append("code-env/python/spec/requirements.txt: missing")
    elif isinstance(desc, dict) and desc.get("installCorePackages"):
        _check_core_packages(requirements.read_text(encoding="utf-8"), problems)


def _check_core_packages(text: str, problems: list[str]) -> None:
    """DSS owns its core packages: the spec may bound them, never pin them, and pandas must stay 2.x."""
    from packaging.requirements import InvalidRequirement, Requirement
    from packaging.utils import canonicalize_name

    rel = "code-env/python/spec/requirements.txt"
    for number, line in enumerate(text.splitlines(), start=1):
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        try:
            requirement = Requirement(line)
        except InvalidRequirement as err:
            problems.append(f"{rel}:{number}: not a pip requirement ({err})")
            continue
        name = canonicalize_name(requirement.name)
        if name not in DSS_CORE_PACKAGES:
            continue
        if any(spec.operator in ("==", "===") for spec in requirement.specifier):
            problems.append(f"{rel}:{number}: {line!r} pins a package DSS installs itself (installCorePackages): "
                            "give a range the dataiku package supports")
        if name == "pandas" and requirement.specifier:  # a bare name keeps the pandas DSS installed
            if not any(requirement.specifier.contains(version) for version in DSS_PANDAS):
                problems.append(f"{rel}:{number}: {line!r} excludes pandas 2.x, the pandas of DSS's core packages")
            if requirement.specifier.contains("3.0.0", prereleases=True):
                problems.append(f"{rel}:{number}: {line!r} lets a fresh install take pandas 3 (the CLI's venv from this file), which no DSS release supports: add <3")


def _check_plugin_json(root: Path, problems: list[str]) -> str | None:
    rel = "plugin.json"
    if not (root / rel).is_file():
        problems.append(f"{rel}: missing")
        return None
    desc = load_strict_json(root / rel, problems, rel)
    if not isinstance(desc, dict):
        return None
    plugin_id = desc.get("id")
    if not isinstance(plugin_id, str) or not _PLUGIN_ID.match(plugin_id):
        problems.append(f"{rel}: id {plugin_id!r} must use only A-Za-z0-9_-")
        plugin_id = None
    version = desc.get("version")
    if not isinstance(version, str) or not re.match(r"^\d+\.\d+\.\d+([-+.].*)?$", version):
        problems.append(f"{rel}: version {version!r} should be semantic (X.Y.Z)")
    meta = _check_meta(rel, desc, problems)
    if "recipesCategory" in meta and meta["recipesCategory"] not in RECIPES_CATEGORIES:
        problems.append(f"{rel}: meta.recipesCategory {meta['recipesCategory']!r} is not one of "
                        f"{sorted(RECIPES_CATEGORIES)}")
    if "tags" in meta and not (isinstance(meta["tags"], list) and all(isinstance(t, str) for t in meta["tags"])):
        problems.append(f"{rel}: meta.tags must be a list of strings")
    check_params(rel, desc.get("params", []), problems, component=desc)
    return plugin_id


def check_plugin(plugin_root: Path) -> list[str]:
    """Applies the documented descriptor rules to a plugin directory; returns the problems found."""
    root = Path(plugin_root)
    problems: list[str] = []
    plugin_id = _check_plugin_json(root, problems)
    _check_code_env(root, problems)
    for comp in _component_dirs(root, "custom-recipes"):
        _check_recipe(root, comp, plugin_id, problems)
    for comp in _component_dirs(root, "python-steps"):
        _check_step(root, comp, plugin_id, problems)
    for comp in _component_dirs(root, "python-runnables"):
        _check_macro(root, comp, plugin_id, problems)
    for comp in _component_dirs(root, "webapps"):
        _check_webapp(root, comp, plugin_id, problems)
    for ps in _component_dirs(root, "parameter-sets"):
        rel = f"parameter-sets/{ps.name}/parameter-set.json"
        desc = load_strict_json(ps / "parameter-set.json", problems, rel)
        if isinstance(desc, dict):
            check_params(rel, desc.get("params", []), problems, component=desc, in_parameter_set=True)
            check_params(f"{rel} (pluginParams)", desc.get("pluginParams", []), problems, component=desc,
                         in_parameter_set=True)
    return problems


# ----------------------------------------------------------------------------- dataiku imports vs the double

def component_code_files(plugin_root: Path) -> list[Path]:
    """recipe.py, step.py, runnable.py and backend.py files of a plugin."""
    root = Path(plugin_root)
    files = []
    for kind_dir, name in (("custom-recipes", "recipe.py"), ("python-steps", "step.py"),
                           ("python-runnables", "runnable.py"), ("webapps", "backend.py")):
        files.extend(sorted((root / kind_dir).glob(f"*/{name}")))
    return files


def _module_file(double_dir: Path, dotted: str) -> Path | None:
    base = Path(double_dir).joinpath(*dotted.split("."))
    if (base / "__init__.py").is_file():
        return base / "__init__.py"
    if base.with_suffix(".py").is_file():
        return base.with_suffix(".py")
    return None


def _top_level_names(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names: set[str] = set()
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(node.name)
        elif isinstance(node, ast.Assign):
            names.update(t.id for t in node.targets if isinstance(t, ast.Name))
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            names.add(node.target.id)
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            names.update((a.asname or a.name).split(".")[0] for a in node.names)
    # Submodules are attributes of their package once imported.
    if path.name == "__init__.py":
        names.update(p.stem for p in path.parent.glob("*.py") if p.stem != "__init__")
        names.update(p.name for p in path.parent.iterdir() if (p / "__init__.py").is_file())
    return names


def check_dataiku_imports(files: list[Path], double_dir: Path, base: Path | None = None) -> list[str]:
    """Reports ``dataiku`` modules, imported names and ``dataiku.X`` attributes the double does not implement."""
    problems: list[str] = []
    for path in files:
        rel = path.relative_to(base).as_posix() if base else str(path)
        try:
            tree = ast.parse(path.read_text(encoding="utf-8"))
        except SyntaxError as e:
            problems.append(f"{rel}: syntax error ({e})")
            continue
        aliases: dict[str, str] = {}
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                for alias in node.names:
                    if alias.name == "dataiku" or alias.name.startswith("dataiku."):
                        if _module_file(double_dir, alias.name) is None:
                            problems.append(f"{rel}:{node.lineno}: module {alias.name} is not in the DSS double")
                        # "import dataiku.x" binds "dataiku"; "import dataiku.x as y" binds y to dataiku.x.
                        aliases[alias.asname or "dataiku"] = alias.name if alias.asname else "dataiku"
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0 and (
                    node.module == "dataiku" or node.module.startswith("dataiku.")):
                module_file = _module_file(double_dir, node.module)
                if module_file is None:
                    problems.append(f"{rel}:{node.lineno}: module {node.module} is not in the DSS double")
                    continue
                available = _top_level_names(module_file)
                for alias in node.names:
                    if alias.name != "*" and alias.name not in available:
                        problems.append(f"{rel}:{node.lineno}: {node.module}.{alias.name} is not in the DSS double")
        for node in ast.walk(tree):
            if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id in aliases:
                module = aliases[node.value.id]
                module_file = _module_file(double_dir, module)
                if module_file is not None and node.attr not in _top_level_names(module_file):
                    problems.append(f"{rel}:{node.lineno}: {module}.{node.attr} is not in the DSS double")
    return problems
