"""Deploying the ``recommend`` endpoint with ``dataikuapi``: service, package, deployment, checks, rollback.

Pure functions over the public-API client objects (``DSSClient``, ``DSSProject``, ``DSSAPIService``,
``DSSAPIDeployer``...), so the DSS glue stays thin and tests can pass a recording fake.

The endpoint is a Python-function endpoint (raw type ``PY_FUNCTION``, appended to the service's raw
settings as Dataiku's image plugins do: ``dataikuapi`` has no helper for it). It references two
managed folders, bundled into each package: ``folders[0]`` the index folder, ``folders[1]`` a
library folder holding the plugin's ``python-lib`` as a zip (plugin libraries are not bundled
into API packages) and the endpoint's limits. The library lives apart from the index because
the index folder is replaced whole at every rebuild.
"""

from __future__ import annotations

import io
import json
import logging
import re
import time
import zipfile
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from street2shop.errors import BadImage, InvalidParameter, Street2ShopError
from street2shop.serving.recommend import Limits

logger = logging.getLogger(__name__)

ENDPOINT_TYPE = "PY_FUNCTION"
ENDPOINT_FUNCTION = "recommend"
#: Where, under the plugin's ``resource/``, the endpoint's code is.
ENDPOINT_CODE_RESOURCE = "api/recommend_endpoint.py"
#: Files of the library folder (``folders[1]`` of the endpoint).
LIB_ZIP = "street2shop-lib/python-lib.zip"
ENDPOINT_CONFIG = "street2shop-lib/endpoint.json"
API_CODE_ENV = "street2shop-api-node"
HEALTHY = "HEALTHY"

_VERSION_RE = re.compile(r"^v(\d+)$")
_ZIP_DATE = (2020, 1, 1, 0, 0, 0)


class DeployError(Street2ShopError):
    """A deployment step failed; the message says which and what DSS answered."""


@dataclass
class DeployReport:
    """What a deployment or a refresh did."""

    service_id: str
    version: str
    created_service: bool = False
    deployment_id: str | None = None
    previous_mapping: dict[str, Any] | None = None
    health: str | None = None
    test_queries: int = 0
    failures: list[str] = field(default_factory=list)
    rolled_back: bool = False
    service_urls: list[str] = field(default_factory=list)


# --- What goes into the service -----------------------------------------------------------------


def bundle_python_lib(lib_root: str | Path) -> bytes:
    """Zip a ``python-lib`` directory for ``zipimport``: its packages' files, no caches, stable bytes."""
    root = Path(lib_root)
    if not (root / "street2shop" / "__init__.py").is_file():
        raise DeployError(f"{root} is not the plugin's python-lib (no street2shop package in it)")
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for path in sorted(root.rglob("*")):
            relative = path.relative_to(root)
            if not path.is_file() or any(part == "__pycache__" or part.endswith(".egg-info") for part in relative.parts):
                continue
            if path.suffix in (".pyc", ".pyo"):
                continue
            info = zipfile.ZipInfo(relative.as_posix(), date_time=_ZIP_DATE)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            archive.writestr(info, path.read_bytes())
    return buffer.getvalue()


def endpoint_config(limits: Limits) -> bytes:
    """The endpoint's ``endpoint.json`` (its request limits)."""
    return json.dumps({"limits": limits.to_dict()}, indent=2, sort_keys=True).encode("utf-8")


def make_test_queries(pictures: Sequence[tuple[str, bytes]], *, k: int = 5, side: int = 256) -> list[dict[str, Any]]:
    """Test queries (``{"name", "q"}``) from catalogue pictures, shrunk to ``side`` pixels as JPEG."""
    import base64

    import cv2

    from street2shop.images.decode import decode_image, encode_jpeg

    queries = []
    for name, data in pictures:
        try:
            pixels = decode_image(data, name=name)
        except BadImage as err:
            logger.warning("test query %s skipped: %s", name, err.reason)
            continue
        height, width = pixels.shape[:2]
        scale = side / max(height, width)
        if scale < 1:
            pixels = cv2.resize(pixels, (max(1, round(width * scale)), max(1, round(height * scale))), interpolation=cv2.INTER_AREA)
        encoded = base64.b64encode(encode_jpeg(pixels, 85)).decode("ascii")
        queries.append({"name": f"catalogue picture {name}"[:200], "q": {"image": encoded, "k": int(k)}})
    return queries


def synthetic_test_query(*, k: int = 5) -> dict[str, Any]:
    """A test query with a generated picture, for when no catalogue picture is at hand."""
    import base64

    from street2shop.images.decode import encode_jpeg

    pixels = np.full((128, 96, 3), 255, np.uint8)
    pixels[20:108, 24:72] = (180, 40, 60)
    return {"name": "generated picture", "q": {"image": base64.b64encode(encode_jpeg(pixels)).decode("ascii"), "k": int(k)}}


def endpoint_definition(
    *,
    endpoint_id: str,
    code: str,
    folder_ids: Sequence[str],
    code_env: str,
    test_queries: Sequence[Mapping[str, Any]],
) -> dict[str, Any]:
    """The raw settings of the Python-function endpoint (keys as Dataiku's image plugins write them)."""
    if not re.match(r"^[A-Za-z0-9_-]+$", endpoint_id or ""):
        raise InvalidParameter(f"endpoint id {endpoint_id!r} may only use A-Za-z0-9_-")
    if not code_env:
        raise InvalidParameter("the endpoint needs a code env (with TensorFlow, FAISS, OpenCV...)")
    if not folder_ids:
        raise InvalidParameter("the endpoint needs the index folder")
    return {
        "id": endpoint_id,
        "type": ENDPOINT_TYPE,
        "userFunctionName": ENDPOINT_FUNCTION,
        "code": code,
        "envSelection": {"envMode": "EXPLICIT_ENV", "envName": code_env},
        "inputFolderRefs": [{"ref": folder_id} for folder_id in folder_ids],
        "testQueries": [{"name": str(query["name"]), "q": dict(query["q"])} for query in test_queries],
    }


# --- API Designer side ---------------------------------------------------------------------------


def ensure_code_env(client: Any, name: str, requirements: Sequence[str], *, interpreter: str = "PYTHON311") -> bool:
    """Create (if missing) a DESIGN_MANAGED Python env with DSS's core packages and ``requirements``, and build it.

    ``desc.installCorePackages`` is set as Dataiku's samples and its deeplearning-image plugin do
    (``python-lib/dku_deeplearning_image/api_designer/api_designer_utils.py``): the endpoint code runs
    with the ``dataiku`` package, which needs them. Listing code envs is for administrators only
    (that plugin's ``is_user_admin`` reads the listing's failure as "not an admin").

    Returns:
        True if the env was created.

    Raises:
        DeployError: the user may not list or create code envs; the message names the env to create.
    """
    try:
        listed = client.list_code_envs()
    except Exception as err:  # noqa: BLE001 - dataikuapi raises DataikuException
        raise DeployError(
            f"cannot list the code envs ({str(err)[:200]}): creating the endpoint's env needs an administrator. "
            f"Choose an existing env in 'Endpoint code env', or have an administrator create the DESIGN_MANAGED "
            f"Python env {name!r} ({interpreter}, core packages installed) with the packages of the plugin's "
            "code-env/python/spec/requirements.txt"
        ) from err
    existing = {(str(env.get("envLang", "")).upper(), env.get("envName")) for env in listed}
    created = ("PYTHON", name) not in existing
    if created:
        logger.info("creating code env %s (%s)", name, interpreter)
        client.create_code_env("PYTHON", name, "DESIGN_MANAGED", {"pythonInterpreter": interpreter})
    env = client.get_code_env("PYTHON", name)
    settings = env.get_settings()
    desc = settings.get_raw().setdefault("desc", {})
    wanted = [line for line in requirements if line.strip() and not line.lstrip().startswith("#")]
    if created or settings.get_required_packages(as_list=True) != wanted or desc.get("installCorePackages") is not True:
        desc["installCorePackages"] = True
        settings.set_required_packages(*wanted)
        settings.save()
        logger.info("installing DSS's core packages and %d packages into code env %s", len(wanted), name)
        env.update_packages()
    return created


def ensure_library_folder(project: Any, name: str) -> Any:
    """The project's managed folder called ``name`` (created if missing), as a ``DSSManagedFolder``."""
    for folder in project.list_managed_folders():
        if folder.get("name") == name or folder.get("id") == name:
            return project.get_managed_folder(folder["id"])
    logger.info("creating managed folder %s for the endpoint's library", name)
    return project.create_managed_folder(name)


def upload_library(folder: Any, library_zip: bytes, config: bytes | None = None) -> None:
    """Put the library zip (and the endpoint config, if given) into the library folder (``DSSManagedFolder.put_file``)."""
    folder.put_file(LIB_ZIP, io.BytesIO(library_zip))
    if config is not None:
        folder.put_file(ENDPOINT_CONFIG, io.BytesIO(config))


def upsert_service(project: Any, service_id: str, endpoint: Mapping[str, Any]) -> tuple[Any, bool]:
    """Create the API service if needed and put ``endpoint`` in it (replacing one with its id).

    Returns:
        ``(DSSAPIService, created)``.
    """
    existing = [item["id"] for item in project.list_api_services()]
    created = service_id not in existing
    service = project.create_api_service(service_id) if created else project.get_api_service(service_id)
    settings = service.get_settings()
    raw = settings.get_raw()
    others = [e for e in raw.get("endpoints", []) if e.get("id") != endpoint["id"]]
    raw["endpoints"] = others + [dict(endpoint)]
    settings.save()
    logger.info("%s API service %s with endpoint %s", "created" if created else "updated", service_id, endpoint["id"])
    return service, created


def next_package_version(service: Any) -> str:
    """``v<N+1>`` where ``vN`` is the highest version of the service (``v1`` for the first)."""
    numbers = [int(m.group(1)) for p in service.list_packages() if (m := _VERSION_RE.match(str(p.get("id", ""))))]
    return f"v{max(numbers, default=0) + 1}"


def create_and_publish(
    service: Any, version: str, *, release_notes: str | None = None, published_service_id: str | None = None, publish: bool = True
) -> None:
    """Make package ``version`` of the service (it bundles the folders' current content) and push it to the API Deployer."""
    if version in {str(p.get("id")) for p in service.list_packages()}:
        raise DeployError(f"the API service already has a package {version!r}; choose another version")
    service.create_package(version, release_notes=release_notes)
    if publish:
        service.publish_package(version, published_service_id=published_service_id)
    logger.info("package %s created%s", version, " and published" if publish else "")


# --- API Deployer side ---------------------------------------------------------------------------


def deployment_exists(deployer: Any, deployment_id: str) -> bool:
    """Whether the API Deployer has a deployment with this id."""
    return any(item.get("deploymentBasicInfo", {}).get("id") == deployment_id for item in deployer.list_deployments(as_objects=False))


def switch_version(deployer: Any, *, deployment_id: str, published_service_id: str, version: str, infra_id: str | None = None) -> tuple[Any, dict[str, Any] | None]:
    """Point a deployment at ``version`` (creating the deployment on ``infra_id`` if it does not exist).

    Returns:
        ``(deployment, previous generations mapping or None if just created)``. Nothing is
        applied until :func:`apply_update`.
    """
    if not deployment_exists(deployer, deployment_id):
        if not infra_id:
            raise DeployError(f"deployment {deployment_id!r} does not exist; give an infrastructure to create it on")
        deployer.create_deployment(deployment_id, published_service_id, infra_id, version)
        logger.info("created deployment %s of %s %s on %s", deployment_id, published_service_id, version, infra_id)
        return deployer.get_deployment(deployment_id), None
    deployment = deployer.get_deployment(deployment_id)
    settings = deployment.get_settings()
    raw = settings.get_raw()
    if raw.get("publishedServiceId") not in (None, published_service_id):
        raise DeployError(
            f"deployment {deployment_id!r} serves {raw.get('publishedServiceId')!r}, not {published_service_id!r}"
        )
    previous = json.loads(json.dumps(raw.get("generationsMapping") or {}))
    settings.set_single_version(version)
    settings.save()
    logger.info("deployment %s now points at %s (was %s)", deployment_id, version, previous.get("generation", previous))
    return deployment, previous


def restore_mapping(deployment: Any, mapping: Mapping[str, Any]) -> None:
    """Put a deployment's previous generations mapping back and apply it."""
    settings = deployment.get_settings()
    settings.get_raw()["generationsMapping"] = dict(mapping)
    settings.save()
    apply_update(deployment)


def apply_update(deployment: Any) -> Any:
    """Start the deployment's update and wait for it (``DSSFuture.wait_for_result``)."""
    try:
        return deployment.start_update().wait_for_result()
    except Exception as err:  # noqa: BLE001 - dataikuapi raises DataikuException or plain Exceptions
        raise DeployError(f"the update of the deployment failed: {err}") from err


def wait_until_healthy(
    deployment: Any,
    *,
    timeout_s: float = 300.0,
    poll_s: float = 5.0,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
) -> str:
    """Poll the deployment's health until it is ``HEALTHY``; returns the last health seen."""
    deadline = clock() + timeout_s
    while True:
        health = str(deployment.get_status().get_health())
        if health == HEALTHY or clock() >= deadline:
            return health
        logger.info("deployment health %s; waiting", health)
        sleep(poll_s)


def _result_items(outcome: Any) -> list[Any] | None:
    if isinstance(outcome, list):
        return outcome
    if isinstance(outcome, Mapping):
        return next((outcome[key] for key in ("testQueriesResults", "results", "responses") if isinstance(outcome.get(key), list)), None)
    return None


def failed_test_queries(outcome: Any) -> list[str]:
    """Failures in the result of ``run_test_queries`` (an empty list: every query answered with products).

    The result's shape is not documented; this reads a list of per-query results under
    ``testQueriesResults``, ``results`` or ``responses`` (or the result itself if a list). A
    query fails when it says so (``ok``/``success`` false, an ``error``, an HTTP status >= 400) or
    when its response has no products. A shape it cannot read counts as a failure.
    """
    items = _result_items(outcome)
    if items is None:
        kind = type(outcome).__name__
        keys = f" with keys {sorted(map(str, outcome))[:20]}" if isinstance(outcome, Mapping) else ""
        return [f"cannot read the test query results (a {kind}{keys}; expected a list of per-query results, "
                f"or one under testQueriesResults, results or responses): {json.dumps(outcome, default=repr)[:300]}"]
    if not items:
        return ["no test query was run"]
    failures = []
    for position, item in enumerate(items, start=1):
        if not isinstance(item, Mapping):
            failures.append(f"query {position}: unreadable result {str(item)[:200]}")
            continue
        name = item.get("name") or item.get("queryName") or f"query {position}"
        status = next((item[key] for key in ("statusCode", "status", "code") if isinstance(item.get(key), int)), 200)
        error = item.get("error") or item.get("errorMessage")
        response = item.get("response", item.get("result"))
        if item.get("ok") is False or item.get("success") is False or error or status >= 400:
            failures.append(f"{name}: {error or f'status {status}'}")
        elif not (isinstance(response, Mapping) and isinstance(response.get("results"), list) and response["results"]):
            failures.append(f"{name}: the answer holds no products")
    return failures


def check_deployment(deployment: Any, *, endpoint_id: str, timeout_s: float, poll_s: float, sleep: Callable[[float], None] = time.sleep) -> tuple[str, int, list[str]]:
    """Wait for health, then run the test queries: ``(health, queries run, failures)``."""
    health = wait_until_healthy(deployment, timeout_s=timeout_s, poll_s=poll_s, sleep=sleep)
    if health != HEALTHY:
        messages = ""
        try:
            messages = f" ({json.dumps(deployment.get_status().get_health_messages())[:500]})"
        except Exception:  # noqa: BLE001 - only adds detail to the message
            pass
        return health, 0, [f"the deployment is {health} after {timeout_s:.0f} s{messages}"]
    try:
        outcome = deployment.run_test_queries(endpoint_id=endpoint_id)
    except Exception as err:  # noqa: BLE001 - dataikuapi raises DataikuException
        return health, 0, [f"the test queries could not run: {err}"]
    items = _result_items(outcome)
    return health, len(items or []), failed_test_queries(outcome)


def roll_out(
    service: Any,
    deployer: Any,
    *,
    deployment_id: str,
    endpoint_id: str,
    version: str | None = None,
    published_service_id: str | None = None,
    infra_id: str | None = None,
    release_notes: str | None = None,
    timeout_s: float = 300.0,
    poll_s: float = 5.0,
    sleep: Callable[[float], None] = time.sleep,
) -> DeployReport:
    """New package -> deployment updated -> healthy -> test queries pass; else roll back and raise.

    The service's current settings (endpoint, folders' current content) go into the package.
    A deployment that did not exist is created; on failure it is left pointing at the new
    version (there is nothing to roll back to) and the error says so.

    Raises:
        DeployError: the new version failed its checks (after the rollback), or a step failed.
    """
    version = version or next_package_version(service)
    if published_service_id is None and deployment_exists(deployer, deployment_id):
        published_service_id = deployer.get_deployment(deployment_id).get_settings().get_raw().get("publishedServiceId")
    published_service_id = published_service_id or service.id
    create_and_publish(service, version, release_notes=release_notes, published_service_id=published_service_id)
    deployment, previous = switch_version(
        deployer, deployment_id=deployment_id, published_service_id=published_service_id, version=version, infra_id=infra_id
    )
    report = DeployReport(service_id=published_service_id, version=version, deployment_id=deployment_id, previous_mapping=previous)
    try:
        apply_update(deployment)
        report.health, report.test_queries, report.failures = check_deployment(
            deployment, endpoint_id=endpoint_id, timeout_s=timeout_s, poll_s=poll_s, sleep=sleep
        )
    except DeployError as err:
        report.failures = [str(err)]
    if not report.failures:
        try:
            report.service_urls = list(deployment.get_status().get_service_urls())
        except Exception:  # noqa: BLE001 - the URLs are informative only
            report.service_urls = []
        logger.info("deployment %s runs %s: %s, %d test queries passed", deployment_id, version, report.health, report.test_queries)
        return report
    summary = "; ".join(report.failures[:5])
    if previous:
        logger.error("version %s failed its checks (%s); rolling back", version, summary)
        restore_mapping(deployment, previous)
        report.rolled_back = True
        was = previous.get("generation", previous)
        raise DeployError(f"version {version} failed its checks and deployment {deployment_id} was rolled back to {was}: {summary}")
    raise DeployError(f"version {version} failed its checks on the new deployment {deployment_id} (no earlier version to roll back to): {summary}")
