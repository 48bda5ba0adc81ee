"""The serving macros' and steps' DSS side: folders, datasets, the public-API client, scenario variables.

Each ``*_main`` function is what one component runs: read its config, call the library
(:mod:`street2shop.serving.deploy`, :mod:`street2shop.serving.weights_download`,
:mod:`street2shop.evaluation.retrieval`), write what it reports.
"""

from __future__ import annotations

import html
import io
import json
import logging
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import dataiku

from street2shop.dss.serving_params import deploy_params, gate_params, refresh_params, weights_params
from street2shop.errors import IndexFormatError, InvalidParameter, Street2ShopError, StorageError
from street2shop.serving import deploy
from street2shop.serving.weights_download import MANIFEST_FILE, download_weights

logger = logging.getLogger(__name__)

PLUGIN_ID = "street2shop"
Progress = Callable[[Any], None]


class QualityGateFailed(Street2ShopError):
    """The index's top-k accuracy is under the step's threshold."""


# --- Where the plugin is --------------------------------------------------------------------------


def plugin_root() -> Path:
    """The plugin's root folder: the one this package runs from, else ``DIP_HOME/plugins/{dev,installed}/street2shop``."""
    here = Path(__file__).resolve().parents[3]
    if (here / "plugin.json").is_file() and (here / "python-lib" / "street2shop").is_dir():
        return here
    dip_home = Path(dataiku.get_custom_variables()["dip.home"])
    for kind in ("dev", "installed"):
        candidate = dip_home / "plugins" / kind / PLUGIN_ID
        if (candidate / "plugin.json").is_file():
            return candidate
    raise StorageError(f"cannot find the {PLUGIN_ID} plugin's files (looked in {here} and {dip_home}/plugins)")


def endpoint_code(root: Path) -> str:
    """The endpoint's code (``resource/api/recommend_endpoint.py``)."""
    return (root / "resource" / deploy.ENDPOINT_CODE_RESOURCE).read_text(encoding="utf-8")


def plugin_requirements(root: Path) -> list[str]:
    """The plugin code env's requirement lines."""
    return (root / "code-env" / "python" / "spec" / "requirements.txt").read_text(encoding="utf-8").splitlines()


# --- Macro street2shop-download-weights -----------------------------------------------------------


def download_weights_main(config: dict[str, Any], progress: Progress) -> str:
    """Download the backbone's weights into the folder; an HTML report."""
    params = weights_params(config)
    folder = dataiku.Folder(params.folder)
    last = [0.0]

    def report(done: int, total: int | None) -> None:
        now = time.monotonic()
        if total and (now - last[0] >= 1.0 or done >= total):
            last[0] = now
            progress(int(done * 95 / total))

    result = download_weights(
        params.backbone,
        lambda name, stream: folder.upload_stream(name, stream),
        base_url=params.base_url,
        checksum=params.checksum,
        timeout=(min(10.0, params.timeout_s), params.timeout_s),
        progress=report,
    )
    manifest = _read_json(folder, MANIFEST_FILE) or {}
    manifest[result.backbone] = {**result.to_dict(), "downloaded_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
    folder.write_json(MANIFEST_FILE, manifest)
    progress(100)
    return (
        f"<p>Stored <b>{html.escape(result.file_name)}</b> ({result.size / 1e6:.1f} MB, sha256 "
        f"<code>{result.sha256[:16]}…</code>) in folder {html.escape(params.folder)}.</p>"
        "<p>Choose 'From the weights folder' in the embed recipe and connect this folder: nothing is downloaded at run time.</p>"
    )


def _read_json(folder: Any, path: str) -> Any:
    if ("/" + path) not in folder.list_paths_in_partition():
        return None
    with folder.get_download_stream(path) as stream:
        return json.loads(stream.read().decode("utf-8"))


# --- Macro street2shop-deploy-api ------------------------------------------------------------------


def _index_items(folder: Any) -> Any:
    """The item table of an index folder, without loading its models."""
    import pandas as pd

    from street2shop.index.folder import INDEX_FILE, ITEMS_FILE
    from street2shop.storage.stores import open_published

    published = open_published(folder)
    if not published.exists(INDEX_FILE):
        raise IndexFormatError(f"{published.description} is not a street2shop index (no {INDEX_FILE}); build it with the embed recipe first")
    return pd.read_parquet(io.BytesIO(published.read_bytes(ITEMS_FILE)))


def _test_pictures(items: Any, pictures_folder: str | None, count: int) -> list[dict[str, Any]]:
    from street2shop.storage.stores import FolderImageStore, ImageSource

    pictures: list[tuple[str, bytes]] = []
    if pictures_folder and count > 0:
        source = ImageSource(FolderImageStore(dataiku.Folder(pictures_folder)))
        for image in items.drop_duplicates("product_id")["image"].astype(str):
            try:
                pictures.append((image, source.read_bytes(image)))
            except StorageError as err:
                logger.warning("test query picture %s: %s", image, err)
            if len(pictures) >= count:
                break
    queries = deploy.make_test_queries(pictures)
    return queries or [deploy.synthetic_test_query()]


def deploy_api_main(project_key: str, config: dict[str, Any], progress: Progress) -> str:
    """Create or update the API service and its endpoint, make a package, optionally deploy it; an HTML report."""
    params = deploy_params(config)
    client = dataiku.api_client()
    project = client.get_project(project_key)
    root = plugin_root()
    index_folder = dataiku.Folder(params.index_folder)
    items = _index_items(index_folder)
    progress(1)
    code_env = params.code_env
    if not code_env:
        deploy.ensure_code_env(client, deploy.API_CODE_ENV, plugin_requirements(root))
        code_env = deploy.API_CODE_ENV
    progress(2)
    library = deploy.ensure_library_folder(project, params.library_folder)
    deploy.upload_library(library, deploy.bundle_python_lib(root / "python-lib"), deploy.endpoint_config(params.limits))
    progress(3)
    endpoint = deploy.endpoint_definition(
        endpoint_id=params.endpoint_id,
        code=endpoint_code(root),
        folder_ids=[index_folder.get_id(), library.id],
        code_env=code_env,
        test_queries=_test_pictures(items, params.pictures_folder, params.test_queries),
    )
    service, created = deploy.upsert_service(project, params.service_id, endpoint)
    progress(4)
    rows = [
        ("API service", f"{params.service_id} ({'created' if created else 'updated'})"),
        ("Endpoint", f"{params.endpoint_id}: Python function recommend(**data), code env {code_env}"),
        ("Folders", f"index {index_folder.get_id()} ({len(items)} items), library {library.id}"),
        ("Test queries", str(len(endpoint["testQueries"]))),
    ]
    if params.deploy:
        outcome = deploy.roll_out(
            service,
            client.get_apideployer(),
            deployment_id=params.deployment_id,
            endpoint_id=params.endpoint_id,
            version=params.version,
            infra_id=params.infra_id,
            release_notes=f"street2shop index of {len(items)} items",
            timeout_s=params.timeout_s,
        )
        rows += [
            ("Package", f"{outcome.version} (published)"),
            ("Deployment", f"{params.deployment_id}: {outcome.health}, {outcome.test_queries} test queries passed"),
            ("URLs", ", ".join(f"{url}/{params.endpoint_id}/run" for url in outcome.service_urls) or "-"),
        ]
    else:
        version = params.version or deploy.next_package_version(service)
        deploy.create_and_publish(service, version, release_notes=f"street2shop index of {len(items)} items", publish=False)
        rows.append(("Package", f"{version} (not deployed: publish and deploy it from the API Designer)"))
    progress(5)
    table = "".join(f"<tr><th>{html.escape(k)}</th><td>{html.escape(v)}</td></tr>" for k, v in rows)
    return f"<table class='table'>{table}</table>"


# --- Step street2shop-quality-gate ----------------------------------------------------------------


def quality_gate_main(config: dict[str, Any]) -> dict[str, Any]:
    """Evaluate the index on the queries, set the figures as scenario variables, fail under the threshold."""
    from dataiku.scenario import Scenario

    from street2shop.evaluation.retrieval import DEFAULT_KS
    from street2shop.evaluation.job import evaluate_catalogue
    from street2shop.storage.stores import FolderImageStore

    params = gate_params(config)
    queries = dataiku.Dataset(params.queries).get_dataframe(infer_with_pandas=False, parse_dates=False)
    result = evaluate_catalogue(
        index=dataiku.Folder(params.index_folder),
        queries=queries,
        images=FolderImageStore(dataiku.Folder(params.pictures_folder)),
        ks=sorted(set(DEFAULT_KS) | {params.k}),
    )
    accuracy = float(result.top_k[str(params.k)])
    passed = accuracy >= params.min_accuracy
    prefix = params.variable_prefix
    variables = {
        f"{prefix}top_k_accuracy": accuracy,
        f"{prefix}k": params.k,
        f"{prefix}min_accuracy": params.min_accuracy,
        f"{prefix}queries": result.queries,
        f"{prefix}gallery": result.gallery,
        f"{prefix}unreadable_queries": int(len(result.errors)),
        f"{prefix}gate_passed": passed,
        **{f"{prefix}top_{k}": value for k, value in result.top_k.items()},
    }
    Scenario().set_scenario_variables(**variables)
    logger.info("top-%d accuracy %.4f on %d queries (threshold %.4f)", params.k, accuracy, result.queries, params.min_accuracy)
    if not passed:
        raise QualityGateFailed(
            f"top-{params.k} accuracy {accuracy:.4f} on {result.queries} queries is under the threshold {params.min_accuracy:.4f}"
        )
    return variables


# --- Step street2shop-refresh-api -----------------------------------------------------------------


def refresh_api_main(config: dict[str, Any]) -> deploy.DeployReport:
    """New package of the service -> deployment updated, checked, rolled back on failure; scenario variables set."""
    from dataiku.scenario import Scenario

    params = refresh_params(config)
    client = dataiku.api_client()
    project = client.get_project(dataiku.default_project_key())
    if params.service_id not in [item["id"] for item in project.list_api_services()]:
        raise InvalidParameter(f"API service {params.service_id!r} does not exist: run the deploy-api macro first")
    service = project.get_api_service(params.service_id)
    if params.library_folder:
        # The plugin may have been updated since the last package: ship its current library.
        library = deploy.ensure_library_folder(project, params.library_folder)
        deploy.upload_library(library, deploy.bundle_python_lib(plugin_root() / "python-lib"))
    scenario = Scenario()
    try:
        report = deploy.roll_out(
            service,
            client.get_apideployer(),
            deployment_id=params.deployment_id,
            endpoint_id=params.endpoint_id,
            release_notes="refreshed by scenario step street2shop-refresh-api",
            timeout_s=params.timeout_s,
            poll_s=params.poll_s,
        )
    except deploy.DeployError as err:
        scenario.set_scenario_variables(street2shop_api_refresh_ok=False, street2shop_api_error=str(err)[:1000])
        raise
    scenario.set_scenario_variables(
        street2shop_api_refresh_ok=True, street2shop_api_version=report.version, street2shop_api_test_queries=report.test_queries
    )
    return report

