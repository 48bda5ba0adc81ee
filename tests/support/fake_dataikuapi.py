"""A recording fake of the ``dataikuapi`` public-API client, for macros and steps run through the DSS double.

``factory()`` (inject with ``api_client="<this file>:factory"``) returns a client whose state lives in
``$DKU_DOUBLE_ROOT/fake_dataikuapi.json``, so it survives the subprocess and the test reads it back
with :func:`load_state`. Every call is recorded; the arguments and the raw settings saved are
checked against the shapes documented in shared/reference/dss-plugin-reference.md §8.4 and the
``dataikuapi`` 15.2.0 source (method signatures are compared by ``test_fake_matches_dataikuapi``).
A shape that breaks a rule raises :class:`ShapeError` and is recorded in ``violations``.
Managed folders are those of the double's project (same storage), so ``dataiku.Folder`` sees them.

Behaviour knobs (``seed_state(root, behaviour={...})``): ``failing_versions`` (their test queries
fail), ``health`` (version -> health string after an update), ``infras`` (infrastructure ids).
"""

from __future__ import annotations

import ast
import copy
import hashlib
import json
import os
import re
import sys
from pathlib import Path
from typing import Any

STATE_FILE = "fake_dataikuapi.json"
ID_RE = re.compile(r"^[A-Za-z0-9_-]+$")
ENV_MODES = ("INHERIT", "EXPLICIT_ENV", "USE_BUILTIN_MODE")
PY_FUNCTION_KEYS = {"id", "type", "userFunctionName", "code", "envSelection", "inputFolderRefs", "testQueries"}


class ShapeError(AssertionError):
    """A call whose arguments do not have the documented shape."""


def _state_path(root: str | Path | None = None) -> Path:
    return Path(root or os.environ["DKU_DOUBLE_ROOT"]) / STATE_FILE


def _empty_state() -> dict[str, Any]:
    return {"calls": [], "violations": [], "services": {}, "published": {}, "deployments": {}, "code_envs": {},
            "behaviour": {"failing_versions": [], "health": {}, "infras": ["dev-infra"]}}


def load_state(root: str | Path) -> dict[str, Any]:
    """The fake's state as the last run left it."""
    path = _state_path(root)
    return json.loads(path.read_text()) if path.exists() else _empty_state()


def seed_state(root: str | Path, *, behaviour: dict[str, Any] | None = None, **parts: Any) -> None:
    """Write an initial state (e.g. an existing deployment, failing versions)."""
    state = load_state(root)
    state["behaviour"].update(behaviour or {})
    state.update(parts)
    _state_path(root).write_text(json.dumps(state, indent=1))


class _Store:
    """Loads the state on each call and writes it back (the subprocess may end any time)."""

    def __init__(self) -> None:
        self.path = _state_path()

    def load(self) -> dict[str, Any]:
        return json.loads(self.path.read_text()) if self.path.exists() else _empty_state()

    def save(self, state: dict[str, Any]) -> None:
        tmp = self.path.with_suffix(".tmp")
        tmp.write_text(json.dumps(state, indent=1))
        os.replace(tmp, self.path)

    def record(self, call: str, **args: Any) -> dict[str, Any]:
        state = self.load()
        state["calls"].append({"call": call, "args": json.loads(json.dumps(args, default=repr))})
        self.save(state)
        return state

    def check(self, condition: bool, message: str) -> None:
        if not condition:
            state = self.load()
            state["violations"].append(message)
            self.save(state)
            raise ShapeError(message)


def _double_storage():
    # In a macro/step subprocess the double is on the path; in the test process the harness has
    # loaded its storage module by path (the test process never imports ``dataiku``).
    if "_dss_double_storage" in sys.modules:
        return sys.modules["_dss_double_storage"]
    from dataiku._double import storage

    return storage


# --- Client and project ----------------------------------------------------------------------------


class FakeDSSClient:
    """``dataikuapi.DSSClient`` (the calls street2shop makes)."""

    def __init__(self) -> None:
        self._store = _Store()

    def get_project(self, project_key):
        self._store.record("DSSClient.get_project", project_key=project_key)
        self._store.check(isinstance(project_key, str) and ID_RE.match(project_key) is not None, f"bad project key {project_key!r}")
        return FakeProject(self._store, project_key)

    def get_apideployer(self):
        self._store.record("DSSClient.get_apideployer")
        return FakeAPIDeployer(self._store)

    def _admin_only(self, what: str) -> None:
        # /admin/ endpoints refuse other users; dataikuapi raises DataikuException (deeplearning-image's
        # is_user_admin reads exactly that failure of list_code_envs as "not an admin").
        if not self._store.load()["behaviour"].get("admin", True):
            from dataikuapi.utils import DataikuException

            raise DataikuException(f"com.dataiku.dip.server.controllers.NotFoundException: Action forbidden: {what} requires admin rights")

    def list_code_envs(self, as_objects=False):
        self._store.record("DSSClient.list_code_envs", as_objects=as_objects)
        self._admin_only("listing code envs")
        return [{"envLang": "PYTHON", "envName": name, "deploymentMode": env["deploymentMode"]} for name, env in self._store.load()["code_envs"].items()]

    def create_code_env(self, env_lang, env_name, deployment_mode, params=None, wait=True):
        self._store.record("DSSClient.create_code_env", env_lang=env_lang, env_name=env_name, deployment_mode=deployment_mode, params=params)
        self._admin_only("creating a code env")
        self._store.check(env_lang in ("PYTHON", "R"), f"env_lang {env_lang!r} is not PYTHON or R")
        self._store.check(deployment_mode in ("DESIGN_MANAGED", "DESIGN_NON_MANAGED", "PLUGIN_MANAGED"), f"deployment mode {deployment_mode!r}")
        self._store.check(re.match(r"^PYTHON3\d+$", str((params or {}).get("pythonInterpreter", ""))) is not None, f"params {params!r} lack a pythonInterpreter")
        state = self._store.load()
        self._store.check(env_name not in state["code_envs"], f"code env {env_name} already exists")
        # A new DESIGN_MANAGED env's desc, as get_settings().get_raw() holds it (core packages off until set).
        desc = {"pythonInterpreter": params["pythonInterpreter"], "installCorePackages": False, "installJupyterSupport": False}
        state["code_envs"][env_name] = {"deploymentMode": deployment_mode, "specPackageList": "", "built": False, "desc": desc}
        self._store.save(state)
        return FakeCodeEnv(self._store, env_lang, env_name)

    def get_code_env(self, env_lang, env_name):
        self._store.record("DSSClient.get_code_env", env_lang=env_lang, env_name=env_name)
        return FakeCodeEnv(self._store, env_lang, env_name)


class FakeCodeEnv:
    def __init__(self, store: _Store, env_lang: str, env_name: str):
        self._store, self.env_lang, self.env_name = store, env_lang, env_name

    def get_settings(self):
        self._store.record("DSSCodeEnv.get_settings", env_name=self.env_name)
        env = self._store.load()["code_envs"].get(self.env_name)
        self._store.check(env is not None, f"code env {self.env_name} does not exist")
        return FakeCodeEnvSettings(self._store, self.env_name, {"specPackageList": env["specPackageList"],
                                                                "desc": dict(env.get("desc", {}))})

    def update_packages(self, force_rebuild_env=False, version=None, wait=True):
        self._store.record("DSSCodeEnv.update_packages", env_name=self.env_name)
        state = self._store.load()
        state["code_envs"][self.env_name]["built"] = True
        self._store.save(state)
        return {"anyMessage": False, "success": True, "messages": []}


class FakeCodeEnvSettings:
    def __init__(self, store: _Store, env_name: str, settings: dict):
        self._store, self.env_name, self.settings = store, env_name, settings

    def get_raw(self):
        return self.settings

    def get_required_packages(self, as_list=False):
        text = self.settings.get("specPackageList", "")
        return text.split("\n") if as_list else text

    def set_required_packages(self, *packages):
        self._store.check(all(isinstance(p, str) and "\n" not in p for p in packages), "packages must be single-line strings")
        self.settings["specPackageList"] = "\n".join(packages)

    def save(self):
        self._store.record("DSSDesignCodeEnvSettings.save", env_name=self.env_name, settings=self.settings)
        state = self._store.load()
        state["code_envs"][self.env_name]["specPackageList"] = self.settings["specPackageList"]
        state["code_envs"][self.env_name]["desc"] = dict(self.settings.get("desc", {}))
        self._store.save(state)


class FakeProject:
    """``dataikuapi.dss.project.DSSProject``."""

    def __init__(self, store: _Store, project_key: str):
        self._store, self.project_key = store, project_key

    def _services(self, state: dict) -> dict:
        return state["services"].setdefault(self.project_key, {})

    def list_api_services(self, as_type="listitems"):
        self._store.record("DSSProject.list_api_services", as_type=as_type)
        self._store.check(as_type in ("listitems", "listitem", "objects", "object"), f"as_type {as_type!r}")
        services = self._services(self._store.load())
        if as_type.startswith("object"):
            return [FakeAPIService(self._store, self.project_key, sid) for sid in services]
        return [{"id": sid, "projectKey": self.project_key, "name": sid, "endpoints": s["settings"]["endpoints"]} for sid, s in services.items()]

    def create_api_service(self, service_id):
        state = self._store.record("DSSProject.create_api_service", service_id=service_id)
        self._store.check(isinstance(service_id, str) and ID_RE.match(service_id) is not None, f"bad service id {service_id!r}")
        self._store.check(service_id not in self._services(state), f"API service {service_id} already exists")
        self._services(state)[service_id] = {"settings": {"id": service_id, "projectKey": self.project_key, "authMethod": "API_KEYS", "endpoints": []}, "packages": {}}
        self._store.save(state)
        return FakeAPIService(self._store, self.project_key, service_id)

    def get_api_service(self, service_id):
        self._store.record("DSSProject.get_api_service", service_id=service_id)
        return FakeAPIService(self._store, self.project_key, service_id)

    def list_managed_folders(self):
        self._store.record("DSSProject.list_managed_folders")
        storage = _double_storage()
        base = storage.project_dir(Path(os.environ["DKU_DOUBLE_ROOT"]), self.project_key) / "folders"
        folders = []
        for config in sorted(base.glob("*/config.json")) if base.exists() else []:
            data = json.loads(config.read_text())
            folders.append({"id": data["id"], "name": data["name"], "projectKey": data["projectKey"], "type": data["type"]})
        return folders

    def get_managed_folder(self, odb_id):
        self._store.record("DSSProject.get_managed_folder", odb_id=odb_id)
        return FakeManagedFolder(self._store, self.project_key, odb_id)

    def create_managed_folder(self, name, folder_type=None, connection_name="filesystem_folders"):
        self._store.record("DSSProject.create_managed_folder", name=name, folder_type=folder_type, connection_name=connection_name)
        self._store.check(isinstance(name, str) and re.match(r"^[A-Za-z0-9_]+$", name) is not None, f"folder name {name!r} (DSS names: letters, digits, _)")
        storage = _double_storage()
        root = Path(os.environ["DKU_DOUBLE_ROOT"])
        folder_id = hashlib.sha1(name.encode()).hexdigest()[:8]
        storage.create_folder(root, self.project_key, folder_id, name)
        return FakeManagedFolder(self._store, self.project_key, folder_id)


class FakeManagedFolder:
    """``dataikuapi.dss.managedfolder.DSSManagedFolder``, over the double's folder storage."""

    def __init__(self, store: _Store, project_key: str, odb_id: str):
        self._store, self.project_key, self.odb_id = store, project_key, odb_id

    @property
    def id(self):
        return self.odb_id

    def _files(self) -> Path:
        storage = _double_storage()
        root = Path(os.environ["DKU_DOUBLE_ROOT"])
        self._store.check(storage.folder_exists(root, self.project_key, self.odb_id), f"managed folder {self.odb_id} does not exist")
        return storage.folder_files_dir(root, self.project_key, self.odb_id)

    def get_definition(self):
        self._store.record("DSSManagedFolder.get_definition", odb_id=self.odb_id)
        self._files()
        storage = _double_storage()
        return dict(storage.folder_config(Path(os.environ["DKU_DOUBLE_ROOT"]), self.project_key, self.odb_id))

    def put_file(self, path, f):
        data = f.read()
        self._store.record("DSSManagedFolder.put_file", odb_id=self.odb_id, path=path, size=len(data))
        self._store.check(isinstance(path, str) and ".." not in path.split("/"), f"bad folder path {path!r}")
        self._store.check(isinstance(data, bytes), "put_file needs a binary file object")
        target = self._files() / path.lstrip("/")
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)

    def list_contents(self):
        self._store.record("DSSManagedFolder.list_contents", odb_id=self.odb_id)
        base = self._files()
        return {"items": [{"path": "/" + p.relative_to(base).as_posix(), "size": p.stat().st_size} for p in sorted(base.rglob("*")) if p.is_file()]}


# --- API Designer ----------------------------------------------------------------------------------


def _check_endpoint(store: _Store, project_key: str, endpoint: dict) -> None:
    store.check(isinstance(endpoint, dict) and isinstance(endpoint.get("id"), str) and ID_RE.match(endpoint["id"]) is not None, f"endpoint without a valid id: {str(endpoint)[:200]}")
    if endpoint.get("type") != "PY_FUNCTION":
        return
    missing = PY_FUNCTION_KEYS - set(endpoint)
    store.check(not missing, f"PY_FUNCTION endpoint {endpoint['id']} lacks {sorted(missing)}")
    try:
        tree = ast.parse(endpoint["code"])
    except SyntaxError as err:
        raise ShapeError(f"endpoint code does not parse: {err}") from err
    functions = [node.name for node in tree.body if isinstance(node, ast.FunctionDef)]
    store.check(endpoint["userFunctionName"] in functions, f"the code defines no function {endpoint['userFunctionName']!r} (defines {functions})")
    env = endpoint["envSelection"]
    store.check(isinstance(env, dict) and env.get("envMode") in ENV_MODES, f"envSelection {env!r}")
    store.check(env.get("envMode") != "EXPLICIT_ENV" or bool(env.get("envName")), "EXPLICIT_ENV needs an envName")
    refs = endpoint["inputFolderRefs"]
    store.check(isinstance(refs, list) and all(isinstance(r, dict) and set(r) == {"ref"} for r in refs), f"inputFolderRefs {refs!r}")
    storage = _double_storage()
    for ref in refs:
        store.check(storage.folder_exists(Path(os.environ["DKU_DOUBLE_ROOT"]), project_key, ref["ref"]), f"inputFolderRefs names an unknown folder id {ref['ref']!r}")
    queries = endpoint["testQueries"]
    store.check(isinstance(queries, list) and all(isinstance(q, dict) and isinstance(q.get("name"), str) and isinstance(q.get("q"), dict) for q in queries), "testQueries must be [{name, q: {...}}]")


class FakeAPIService:
    """``dataikuapi.dss.apiservice.DSSAPIService``."""

    def __init__(self, store: _Store, project_key: str, service_id: str):
        self._store, self.project_key, self.service_id = store, project_key, service_id

    @property
    def id(self):
        return self.service_id

    def _service(self, state: dict) -> dict:
        service = state["services"].get(self.project_key, {}).get(self.service_id)
        self._store.check(service is not None, f"API service {self.service_id} does not exist")
        return service

    def get_settings(self):
        state = self._store.record("DSSAPIService.get_settings", service_id=self.service_id)
        return FakeAPIServiceSettings(self._store, self.project_key, self.service_id, copy.deepcopy(self._service(state)["settings"]))

    def list_packages(self):
        state = self._store.record("DSSAPIService.list_packages", service_id=self.service_id)
        return [{"id": pid, "createdOn": p["createdOn"]} for pid, p in self._service(state)["packages"].items()]

    def create_package(self, package_id, release_notes=None):
        state = self._store.record("DSSAPIService.create_package", service_id=self.service_id, package_id=package_id, release_notes=release_notes)
        service = self._service(state)
        self._store.check(isinstance(package_id, str) and ID_RE.match(package_id) is not None, f"bad package id {package_id!r}")
        self._store.check(package_id not in service["packages"], f"package {package_id} already exists")
        self._store.check(release_notes is None or isinstance(release_notes, str), "release_notes must be a string")
        self._store.check(bool(service["settings"]["endpoints"]), "a package of a service without endpoints")
        storage = _double_storage()
        root = Path(os.environ["DKU_DOUBLE_ROOT"])
        folders = {}
        for endpoint in service["settings"]["endpoints"]:
            for ref in endpoint.get("inputFolderRefs", []):
                files = storage.list_folder_files(root, self.project_key, ref["ref"])
                folders[ref["ref"]] = files
        service["packages"][package_id] = {"createdOn": len(service["packages"]) + 1, "endpoints": copy.deepcopy(service["settings"]["endpoints"]), "folders": folders}
        self._store.save(state)

    def publish_package(self, package_id, published_service_id=None):
        state = self._store.record("DSSAPIService.publish_package", service_id=self.service_id, package_id=package_id, published_service_id=published_service_id)
        service = self._service(state)
        self._store.check(package_id in service["packages"], f"cannot publish unknown package {package_id}")
        target = published_service_id or self.service_id
        published = state["published"].setdefault(target, {"versions": {}})
        self._store.check(package_id not in published["versions"], f"version {package_id} already published to {target}")
        published["versions"][package_id] = service["packages"][package_id]
        self._store.save(state)


class FakeAPIServiceSettings:
    """``DSSAPIServiceSettings``: ``get_raw()`` is the live dict, ``save()`` checks the endpoints."""

    def __init__(self, store: _Store, project_key: str, service_id: str, settings: dict):
        self._store, self.project_key, self.service_id, self.settings = store, project_key, service_id, settings

    def get_raw(self):
        return self.settings

    @property
    def endpoints(self):
        return self.settings["endpoints"]

    def save(self):
        state = self._store.record("DSSAPIServiceSettings.save", service_id=self.service_id, endpoint_ids=[e.get("id") for e in self.settings.get("endpoints", [])])
        self._store.check(isinstance(self.settings.get("endpoints"), list), "settings.endpoints must be a list")
        ids = [e.get("id") for e in self.settings["endpoints"]]
        self._store.check(len(ids) == len(set(ids)), f"duplicate endpoint ids {ids}")
        for endpoint in self.settings["endpoints"]:
            _check_endpoint(self._store, self.project_key, endpoint)
        state["services"][self.project_key][self.service_id]["settings"] = self.settings
        self._store.save(state)


# --- API Deployer ----------------------------------------------------------------------------------


class FakeAPIDeployer:
    """``dataikuapi.dss.apideployer.DSSAPIDeployer``."""

    def __init__(self, store: _Store):
        self._store = store

    def list_deployments(self, as_objects=True):
        state = self._store.record("DSSAPIDeployer.list_deployments", as_objects=as_objects)
        if as_objects:
            return [FakeDeployment(self._store, did) for did in state["deployments"]]
        return [{"deploymentBasicInfo": {"id": did, "publishedServiceId": d["settings"]["publishedServiceId"], "infraId": d["settings"]["infraId"], "enabled": True}} for did, d in state["deployments"].items()]

    def get_deployment(self, deployment_id):
        self._store.record("DSSAPIDeployer.get_deployment", deployment_id=deployment_id)
        return FakeDeployment(self._store, deployment_id)

    def create_deployment(self, deployment_id, service_id, infra_id, version, endpoint_id=None, ignore_warnings=False, authorizations_to_query_through_deployer=None):
        state = self._store.record("DSSAPIDeployer.create_deployment", deployment_id=deployment_id, service_id=service_id, infra_id=infra_id, version=version, endpoint_id=endpoint_id)
        self._store.check(isinstance(deployment_id, str) and ID_RE.match(deployment_id) is not None, f"bad deployment id {deployment_id!r}")
        self._store.check(deployment_id not in state["deployments"], f"deployment {deployment_id} already exists")
        self._store.check(infra_id in state["behaviour"]["infras"], f"unknown infrastructure {infra_id!r}")
        self._store.check(version in state["published"].get(service_id, {}).get("versions", {}), f"version {version!r} of {service_id!r} is not published")
        state["deployments"][deployment_id] = {
            "settings": {"id": deployment_id, "publishedServiceId": service_id, "infraId": infra_id, "enabled": True,
                         "generationsMapping": {"mode": "SINGLE_GENERATION", "generation": version}},
            "deployed": None, "health": "OUT_OF_SYNC", "history": [],
        }
        self._store.save(state)
        return FakeDeployment(self._store, deployment_id)


class FakeDeployment:
    """``DSSAPIDeployerDeployment``."""

    def __init__(self, store: _Store, deployment_id: str):
        self._store, self.deployment_id = store, deployment_id

    @property
    def id(self):
        return self.deployment_id

    def _deployment(self, state: dict) -> dict:
        deployment = state["deployments"].get(self.deployment_id)
        self._store.check(deployment is not None, f"deployment {self.deployment_id} does not exist")
        return deployment

    def get_settings(self):
        state = self._store.record("DSSAPIDeployerDeployment.get_settings", deployment_id=self.deployment_id)
        return FakeDeploymentSettings(self._store, self.deployment_id, copy.deepcopy(self._deployment(state)["settings"]))

    def start_update(self):
        state = self._store.record("DSSAPIDeployerDeployment.start_update", deployment_id=self.deployment_id)
        deployment = self._deployment(state)
        mapping = deployment["settings"]["generationsMapping"]
        self._store.check(mapping.get("mode") == "SINGLE_GENERATION", f"unsupported mapping {mapping}")
        version = mapping["generation"]
        deployment["deployed"] = version
        deployment["history"].append(version)
        deployment["health"] = state["behaviour"]["health"].get(version, "HEALTHY")
        self._store.save(state)
        return FakeFuture(self._store, self.deployment_id)

    def get_status(self):
        state = self._store.record("DSSAPIDeployerDeployment.get_status", deployment_id=self.deployment_id)
        deployment = self._deployment(state)
        return FakeDeploymentStatus(deployment)

    def run_test_queries(self, endpoint_id=None, test_queries=None):
        state = self._store.record("DSSAPIDeployerDeployment.run_test_queries", deployment_id=self.deployment_id, endpoint_id=endpoint_id)
        deployment = self._deployment(state)
        version = deployment["deployed"]
        self._store.check(version is not None, "test queries on a deployment never updated")
        package = state["published"][deployment["settings"]["publishedServiceId"]]["versions"][version]
        endpoints = {e["id"]: e for e in package["endpoints"]}
        self._store.check(endpoint_id in endpoints or (endpoint_id is None and len(endpoints) == 1), f"endpoint {endpoint_id!r} is not in version {version}")
        endpoint = endpoints[endpoint_id] if endpoint_id else next(iter(endpoints.values()))
        failing = version in state["behaviour"]["failing_versions"]
        results = []
        for query in endpoint["testQueries"]:
            if failing:
                results.append({"name": query["name"], "ok": False, "statusCode": 500, "error": "Failed to load the index"})
            else:
                results.append({"name": query["name"], "ok": True, "statusCode": 200, "response": {"results": [{"product_id": "p0", "score": 0.9}]}})
        return {"testQueriesResults": results}


class FakeFuture:
    """``DSSFuture`` of an update (already finished)."""

    def __init__(self, store: _Store, deployment_id: str):
        self._store, self.deployment_id = store, deployment_id

    def wait_for_result(self):
        self._store.record("DSSFuture.wait_for_result", deployment_id=self.deployment_id)
        return {"anyMessage": False, "messages": []}


class FakeDeploymentSettings:
    """``DSSAPIDeployerDeploymentSettings``."""

    def __init__(self, store: _Store, deployment_id: str, settings: dict):
        self._store, self.deployment_id, self.settings = store, deployment_id, settings

    def get_raw(self):
        return self.settings

    def set_enabled(self, enabled):
        self.settings["enabled"] = enabled

    def set_single_version(self, version):
        self.settings["generationsMapping"] = {"mode": "SINGLE_GENERATION", "generation": version}

    def save(self, ignore_warnings=False):
        state = self._store.record("DSSAPIDeployerDeploymentSettings.save", deployment_id=self.deployment_id, generationsMapping=self.settings.get("generationsMapping"))
        deployment = state["deployments"].get(self.deployment_id)
        self._store.check(deployment is not None, f"deployment {self.deployment_id} does not exist")
        mapping = self.settings.get("generationsMapping", {})
        versions = state["published"].get(self.settings["publishedServiceId"], {}).get("versions", {})
        self._store.check(mapping.get("generation") in versions, f"mapping {mapping} names a version that is not published")
        deployment["settings"] = self.settings
        self._store.save(state)


class FakeDeploymentStatus:
    """``DSSAPIDeployerDeploymentStatus``."""

    def __init__(self, deployment: dict):
        self.light_status = {"deploymentBasicInfo": {"id": deployment["settings"]["id"], "publishedServiceId": deployment["settings"]["publishedServiceId"], "enabled": True}}
        self.heavy_status = {"health": deployment["health"], "healthMessages": {"messages": []}, "apiNodes": [{"url": "http://apinode.invalid:12000"}]}

    def get_light(self):
        return self.light_status

    def get_heavy(self):
        return self.heavy_status

    def get_health(self):
        return self.heavy_status["health"]

    def get_health_messages(self):
        return self.heavy_status["healthMessages"]

    def get_service_urls(self):
        service_id = self.light_status["deploymentBasicInfo"]["publishedServiceId"]
        return ["%s/public/api/v1/%s" % (node["url"], service_id) for node in self.heavy_status["apiNodes"]]


def factory() -> FakeDSSClient:
    """What ``dataiku.api_client()`` returns in the double when this fake is injected."""
    return FakeDSSClient()


#: (fake class, dataikuapi module, dataikuapi class) pairs whose shared methods must have the same signature.
COUNTERPARTS = [
    (FakeDSSClient, "dataikuapi.dssclient", "DSSClient"),
    (FakeProject, "dataikuapi.dss.project", "DSSProject"),
    (FakeManagedFolder, "dataikuapi.dss.managedfolder", "DSSManagedFolder"),
    (FakeAPIService, "dataikuapi.dss.apiservice", "DSSAPIService"),
    (FakeAPIServiceSettings, "dataikuapi.dss.apiservice", "DSSAPIServiceSettings"),
    (FakeAPIDeployer, "dataikuapi.dss.apideployer", "DSSAPIDeployer"),
    (FakeDeployment, "dataikuapi.dss.apideployer", "DSSAPIDeployerDeployment"),
    (FakeDeploymentSettings, "dataikuapi.dss.apideployer", "DSSAPIDeployerDeploymentSettings"),
    (FakeDeploymentStatus, "dataikuapi.dss.apideployer", "DSSAPIDeployerDeploymentStatus"),
    (FakeFuture, "dataikuapi.dss.future", "DSSFuture"),
    (FakeCodeEnv, "dataikuapi.dss.admin", "DSSCodeEnv"),
    (FakeCodeEnvSettings, "dataikuapi.dss.admin", "DSSDesignCodeEnvSettings"),
]
