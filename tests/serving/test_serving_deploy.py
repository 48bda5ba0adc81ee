"""Deployment to DSS: the library functions against the recording dataikuapi fake, then the macros and steps
run as DSS runs them (subprocesses through the double, the fake injected as ``dataiku.api_client()``)."""

from __future__ import annotations

import hashlib
import importlib
import inspect
import json
import threading
import zipfile
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from io import BytesIO

import pandas as pd
import pytest

import fake_dataikuapi as fake
from dss_harness import REPO_ROOT, DSSProject
from serving_support import build_tiny_index
from street2shop.serving import deploy
from street2shop.serving.weights_download import HDF5_SIGNATURE

FAKE = f"{REPO_ROOT / 'tests' / 'support' / 'fake_dataikuapi.py'}:factory"
ENDPOINT = {
    "id": "recommend", "type": "PY_FUNCTION", "userFunctionName": "recommend", "code": "def recommend(**data):\n    return data\n",
    "envSelection": {"envMode": "EXPLICIT_ENV", "envName": "env"}, "inputFolderRefs": [],
    "testQueries": [{"name": "q1", "q": {"image": "QUJD"}}, {"name": "q2", "q": {"image": "QUJD"}}],
}


def test_fake_matches_dataikuapi_signatures():
    """The fake's methods take exactly the arguments of dataikuapi 15.2.0's, so calls valid on it are valid there."""
    checked = 0
    for fake_class, module, name in fake.COUNTERPARTS:
        real = getattr(importlib.import_module(module), name)
        for method, value in vars(fake_class).items():
            if method.startswith("_") or not callable(value):
                continue
            assert hasattr(real, method), f"{name} has no {method}"
            assert inspect.signature(value) == inspect.signature(getattr(real, method)), f"{name}.{method}"
            checked += 1
    assert checked >= 35


# --- Library functions, in process ------------------------------------------------------------------


@pytest.fixture()
def deployer_state(tmp_path, monkeypatch):
    """An API service with v1 published and deployed (healthy) on 'dep'."""
    monkeypatch.setenv("DKU_DOUBLE_ROOT", str(tmp_path))
    package = {"createdOn": 1, "endpoints": [ENDPOINT], "folders": {}}
    fake.seed_state(
        tmp_path,
        services={"PROJ": {"street2shop": {"settings": {"id": "street2shop", "endpoints": [ENDPOINT]}, "packages": {"v1": package}}}},
        published={"street2shop": {"versions": {"v1": package}}},
        deployments={"dep": {"settings": {"id": "dep", "publishedServiceId": "street2shop", "infraId": "dev-infra", "enabled": True,
                                          "generationsMapping": {"mode": "SINGLE_GENERATION", "generation": "v1"}},
                             "deployed": "v1", "health": "HEALTHY", "history": ["v1"]}},
    )
    client = fake.factory()
    return tmp_path, client.get_project("PROJ").get_api_service("street2shop"), client.get_apideployer()


def test_roll_out_packages_publishes_updates_and_checks(deployer_state):
    root, service, deployer = deployer_state
    report = deploy.roll_out(service, deployer, deployment_id="dep", endpoint_id="recommend", poll_s=0)
    state = fake.load_state(root)
    assert report.version == "v2" and report.health == "HEALTHY" and report.test_queries == 2 and not report.rolled_back
    assert report.previous_mapping == {"mode": "SINGLE_GENERATION", "generation": "v1"}
    assert report.service_urls == ["http://apinode.invalid:12000/public/api/v1/street2shop"]
    assert state["deployments"]["dep"]["history"] == ["v1", "v2"] and state["violations"] == []
    calls = [c["call"] for c in state["calls"]]
    order = ["DSSAPIService.create_package", "DSSAPIService.publish_package", "DSSAPIDeployerDeploymentSettings.save",
             "DSSAPIDeployerDeployment.start_update", "DSSFuture.wait_for_result", "DSSAPIDeployerDeployment.run_test_queries"]
    assert [c for c in calls if c in order] == order


def test_roll_out_rolls_back_when_the_test_queries_fail(deployer_state):
    root, service, deployer = deployer_state
    fake.seed_state(root, behaviour={"failing_versions": ["v2"]})
    with pytest.raises(deploy.DeployError, match="rolled back to v1: q1: Failed to load the index"):
        deploy.roll_out(service, deployer, deployment_id="dep", endpoint_id="recommend", poll_s=0)
    deployment = fake.load_state(root)["deployments"]["dep"]
    assert deployment["history"] == ["v1", "v2", "v1"] and deployment["settings"]["generationsMapping"]["generation"] == "v1"


def test_roll_out_rolls_back_an_unhealthy_version_after_the_timeout(deployer_state):
    root, service, deployer = deployer_state
    fake.seed_state(root, behaviour={"health": {"v2": "UNHEALTHY"}})
    sleeps = []
    with pytest.raises(deploy.DeployError, match="UNHEALTHY"):
        deploy.roll_out(service, deployer, deployment_id="dep", endpoint_id="recommend", timeout_s=0.2, poll_s=0.05, sleep=sleeps.append)
    state = fake.load_state(root)
    assert state["deployments"]["dep"]["deployed"] == "v1" and sleeps
    assert "DSSAPIDeployerDeployment.run_test_queries" not in [c["call"] for c in state["calls"]]


def test_a_failing_first_deployment_says_there_is_nothing_to_roll_back_to(deployer_state):
    root, service, deployer = deployer_state
    fake.seed_state(root, behaviour={"failing_versions": ["v2"]})
    with pytest.raises(deploy.DeployError, match="no earlier version"):
        deploy.roll_out(service, deployer, deployment_id="new-dep", endpoint_id="recommend", infra_id="dev-infra", poll_s=0)
    with pytest.raises(deploy.DeployError, match="give an infrastructure"):
        deploy.roll_out(service, deployer, deployment_id="other-dep", endpoint_id="recommend", poll_s=0)


def test_failed_test_queries_reads_the_result_shapes():
    ok = {"name": "a", "ok": True, "response": {"results": [{"product_id": "p"}]}}
    assert deploy.failed_test_queries({"testQueriesResults": [ok]}) == []
    assert deploy.failed_test_queries([ok]) == []
    assert deploy.failed_test_queries({"results": [{**ok, "ok": False, "error": "boom"}]}) == ["a: boom"]
    assert deploy.failed_test_queries([{"name": "b", "statusCode": 400, "response": {}}]) == ["b: status 400"]
    assert deploy.failed_test_queries([{"name": "c", "response": {"results": []}}]) == ["c: the answer holds no products"]
    assert deploy.failed_test_queries({"testQueriesResults": []}) == ["no test query was run"]
    assert "cannot read" in deploy.failed_test_queries({"weird": 1})[0]
    # An unknown shape (run_test_queries' is undocumented) says what came back, so a rollback can be diagnosed.
    unknown = deploy.failed_test_queries({"queries": {"q1": {"ok": True}}, "total": 1})[0]
    assert "a dict with keys ['queries', 'total']" in unknown and '"q1"' in unknown


def test_ensure_code_env_installs_dss_core_packages(tmp_path, monkeypatch):
    monkeypatch.setenv("DKU_DOUBLE_ROOT", str(tmp_path))
    client = fake.FakeDSSClient()
    assert deploy.ensure_code_env(client, "api-env", ["numpy>=2.0.2,<3", "# comment", "faiss-cpu==1.15.1"]) is True
    env = fake.load_state(tmp_path)["code_envs"]["api-env"]
    assert env["deploymentMode"] == "DESIGN_MANAGED" and env["desc"]["installCorePackages"] is True and env["built"]
    assert env["specPackageList"] == "numpy>=2.0.2,<3\nfaiss-cpu==1.15.1"
    # An existing env with the right packages but without DSS's core packages is fixed and rebuilt.
    state = fake.load_state(tmp_path)
    state["code_envs"]["old-env"] = {"deploymentMode": "DESIGN_MANAGED", "specPackageList": "numpy>=2.0.2,<3", "built": False,
                                     "desc": {"installCorePackages": False}}
    fake.seed_state(tmp_path, code_envs=state["code_envs"])
    assert deploy.ensure_code_env(client, "old-env", ["numpy>=2.0.2,<3"]) is False
    old = fake.load_state(tmp_path)["code_envs"]["old-env"]
    assert old["desc"]["installCorePackages"] is True and old["built"]


def test_ensure_code_env_without_admin_rights_says_which_env_to_create(tmp_path, monkeypatch):
    monkeypatch.setenv("DKU_DOUBLE_ROOT", str(tmp_path))
    fake.seed_state(tmp_path, behaviour={"admin": False})
    with pytest.raises(deploy.DeployError) as caught:
        deploy.ensure_code_env(fake.FakeDSSClient(), deploy.API_CODE_ENV, ["numpy>=2.0.2,<3"])
    message = str(caught.value)
    assert "needs an administrator" in message and "'Endpoint code env'" in message
    assert f"DESIGN_MANAGED Python env '{deploy.API_CODE_ENV}' (PYTHON311, core packages installed)" in message
    assert fake.load_state(tmp_path)["code_envs"] == {}


def test_library_bundle_is_stable_and_importable(tmp_path):
    first = deploy.bundle_python_lib(REPO_ROOT / "python-lib")
    assert first == deploy.bundle_python_lib(REPO_ROOT / "python-lib")
    names = zipfile.ZipFile(BytesIO(first)).namelist()
    assert "street2shop/__init__.py" in names and "street2shop/serving/recommend.py" in names
    assert not [n for n in names if "__pycache__" in n or n.endswith(".pyc") or "egg-info" in n]
    with pytest.raises(deploy.DeployError):
        deploy.bundle_python_lib(tmp_path)


# --- Macros and steps through the DSS double ----------------------------------------------------------


@pytest.fixture(scope="module")
def project(tmp_path_factory):
    root = tmp_path_factory.mktemp("dss")
    index_dir, images, catalog = build_tiny_index(root / "local")
    project = DSSProject(root / "project", project_key="PROJ")
    project.add_folder("idx00001", name="search_index", source_dir=index_dir)
    project.add_folder("pic00001", name="pictures", source_dir=images)
    project.add_folder("wts00001", name="weights")
    queries = pd.read_csv(root / "local" / "queries.csv", dtype=str)
    project.add_dataset("queries", queries)
    broken = queries.copy()
    broken.loc[2:, "image"] = [f"user/missing{i}.jpg" for i in range(2, len(broken))]  # unreadable: misses
    project.add_dataset("queries_broken", broken)
    fake.seed_state(project.root, behaviour={"infras": ["dev-infra"]})
    return project


@pytest.fixture(scope="module")
def deployed(project):
    run = project.run_macro(
        "street2shop-deploy-api",
        config={"index_folder": "idx00001", "pictures_folder": "pictures", "service_id": "street2shop", "endpoint_id": "recommend",
                "max_image_mb": 2, "max_k": 50, "test_queries": 3, "deploy": True, "infra_id": "dev-infra", "deployment_id": "s2s-dev"},
        api_client=FAKE, timeout=300,
    )
    return project, run


def test_deploy_macro_creates_the_service_package_and_deployment(deployed):
    project, run = deployed
    state = fake.load_state(project.root)
    assert state["violations"] == []
    assert run.result_kind == "string" and "HEALTHY" in run.result and "3 test queries passed" in run.result
    assert run.progress_target == [5, "NONE"] and run.progress[-1] == 5
    endpoint = state["services"]["PROJ"]["street2shop"]["settings"]["endpoints"][0]
    assert endpoint["type"] == "PY_FUNCTION" and endpoint["userFunctionName"] == "recommend"
    assert endpoint["code"] == (REPO_ROOT / "resource" / deploy.ENDPOINT_CODE_RESOURCE).read_text()
    assert endpoint["envSelection"] == {"envMode": "EXPLICIT_ENV", "envName": deploy.API_CODE_ENV}
    library_id = endpoint["inputFolderRefs"][1]["ref"]
    assert endpoint["inputFolderRefs"][0] == {"ref": "idx00001"}
    assert len(endpoint["testQueries"]) == 3 and all(q["q"]["k"] == 5 for q in endpoint["testQueries"])
    package = state["published"]["street2shop"]["versions"]["v1"]
    assert {deploy.LIB_ZIP, deploy.ENDPOINT_CONFIG} <= set(package["folders"][library_id])
    assert "index.json" in package["folders"]["idx00001"]
    config = json.loads(project.folder_files(library_id)[deploy.ENDPOINT_CONFIG].read_text())
    assert config["limits"]["max_k"] == 50 and config["limits"]["max_image_bytes"] == 2 * 1024 * 1024
    assert state["code_envs"][deploy.API_CODE_ENV]["built"] and "tensorflow==" in state["code_envs"][deploy.API_CODE_ENV]["specPackageList"]
    assert state["code_envs"][deploy.API_CODE_ENV]["desc"]["installCorePackages"] is True
    assert state["deployments"]["s2s-dev"]["deployed"] == "v1"


@pytest.fixture(scope="module")
def refreshed(deployed):
    project, _ = deployed
    run = project.run_step("street2shop-refresh-api", config={"service_id": "street2shop", "endpoint_id": "recommend", "deployment_id": "s2s-dev",
                                                              "library_folder": "street2shop_api_lib", "poll_s": 0}, api_client=FAKE, timeout=300)
    return project, run


def test_refresh_step_deploys_a_new_version_and_checks_it(refreshed):
    project, run = refreshed
    state = fake.load_state(project.root)
    assert state["violations"] == [] and state["deployments"]["s2s-dev"]["history"] == ["v1", "v2"]
    assert run.scenario_variables == {"street2shop_api_refresh_ok": True, "street2shop_api_version": "v2", "street2shop_api_test_queries": 3}
    assert "DSSManagedFolder.put_file" in [c["call"] for c in state["calls"]]


def test_refresh_step_rolls_back_a_version_whose_test_queries_fail(refreshed):
    project, _ = refreshed
    fake.seed_state(project.root, behaviour={"failing_versions": ["v3"]})
    run = project.run_step("street2shop-refresh-api", config={"deployment_id": "s2s-dev", "library_folder": "", "poll_s": 0}, api_client=FAKE, check=False, timeout=300)
    state = fake.load_state(project.root)
    assert run.returncode != 0 and "rolled back to v2" in run.stderr
    assert state["deployments"]["s2s-dev"]["history"] == ["v1", "v2", "v3", "v2"]
    assert state["deployments"]["s2s-dev"]["settings"]["generationsMapping"]["generation"] == "v2"
    assert run.scenario_variables["street2shop_api_refresh_ok"] is False and state["violations"] == []


def test_deploy_macro_without_deploying_updates_the_service_and_makes_a_package(refreshed):
    project, _ = refreshed
    run = project.run_macro("street2shop-deploy-api", config={"index_folder": "search_index", "code_env": "my-env", "version": "manual-1", "test_queries": 0}, api_client=FAKE, timeout=300)
    state = fake.load_state(project.root)
    assert "(updated)" in run.result and "manual-1 (not deployed" in run.result and state["violations"] == []
    service = state["services"]["PROJ"]["street2shop"]
    assert "manual-1" in service["packages"] and "manual-1" not in state["published"]["street2shop"]["versions"]
    endpoint = service["settings"]["endpoints"][0]
    assert endpoint["envSelection"]["envName"] == "my-env" and [q["name"] for q in endpoint["testQueries"]] == ["generated picture"]
    assert state["deployments"]["s2s-dev"]["deployed"] == "v2"


def test_quality_gate_sets_the_figures_and_passes(project):
    run = project.run_step("street2shop-quality-gate", config={"index_folder": "idx00001", "queries": "queries", "pictures_folder": "pictures", "k": 10, "min_accuracy": 0.5}, timeout=300)
    variables = run.scenario_variables
    assert variables["street2shop_top_k_accuracy"] == 1.0 and variables["street2shop_k"] == 10
    assert variables["street2shop_queries"] == 6 and variables["street2shop_gallery"] == 6 and variables["street2shop_gate_passed"] is True
    assert {"street2shop_top_1", "street2shop_top_5", "street2shop_top_20"} <= set(variables)


def test_quality_gate_fails_the_step_under_the_threshold(project):
    run = project.run_step("street2shop-quality-gate", config={"index_folder": "idx00001", "queries": "queries_broken", "pictures_folder": "pictures", "k": 10, "min_accuracy": 0.5, "variable_prefix": "gate_"}, check=False, timeout=300)
    assert run.returncode != 0 and "top-10 accuracy 0.3333 on 6 queries is under the threshold 0.5000" in run.stderr
    assert run.scenario_variables["gate_gate_passed"] is False and run.scenario_variables["gate_unreadable_queries"] == 4


PAYLOAD = HDF5_SIGNATURE + b"weights" * 50_000


class WeightsHandler(BaseHTTPRequestHandler):
    def log_message(self, *args):
        pass

    def do_GET(self):  # noqa: N802 - http.server's name
        self.send_response(200)
        self.send_header("Content-Type", "application/octet-stream")
        self.send_header("Content-Length", str(len(PAYLOAD)))
        self.end_headers()
        self.wfile.write(PAYLOAD)


def test_download_weights_macro_fills_the_folder_for_offline_use(project):
    server = ThreadingHTTPServer(("127.0.0.1", 0), WeightsHandler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        run = project.run_macro("street2shop-download-weights", config={
            "folder": "weights", "backbone": "resnet50", "base_url": f"http://127.0.0.1:{server.server_address[1]}/mirror",
            "checksum": hashlib.sha256(PAYLOAD).hexdigest(), "timeout_s": 30}, timeout=120)
    finally:
        server.shutdown()
        server.server_close()
    files = project.folder_files("wts00001")
    stored = files["resnet50_weights_tf_dim_ordering_tf_kernels_notop.h5"].read_bytes()
    assert stored == PAYLOAD and "Stored <b>resnet50_weights" in run.result
    manifest = json.loads(files["street2shop-weights.json"].read_text())
    assert manifest["resnet50"]["sha256"] == hashlib.sha256(PAYLOAD).hexdigest()
    assert run.progress[-1] == 100 and run.progress_target == [100, "NONE"]
    from street2shop.models.backbones import backbone_spec, resolve_weights

    assert resolve_weights(str(files["street2shop-weights.json"].parent), backbone_spec("resnet50")) == str(files["resnet50_weights_tf_dim_ordering_tf_kernels_notop.h5"])
