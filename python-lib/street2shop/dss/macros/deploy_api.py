"""Macro street2shop-deploy-api: the recommend endpoint into an API service, packaged, optionally deployed.

``run`` drives :mod:`street2shop.serving.deploy` through the public API client.
"""

from __future__ import annotations

import html
import io
import logging
from collections.abc import Callable
from typing import Any

import dataiku

from street2shop.dss.plugin_files import endpoint_code, plugin_requirements, plugin_root
from street2shop.dss.serving_params import deploy_params
from street2shop.errors import IndexFormatError, StorageError
from street2shop.serving import deploy

logger = logging.getLogger(__name__)

Progress = Callable[[Any], None]

#: What the macro's ``get_progress_target`` returns: the five stages below.
PROGRESS_TARGET = (5, "NONE")


def _index_items(folder: Any) -> Any:
    """The item table of an index folder, without loading its models."""
    import pandas as pd

    from street2shop.index.folder import INDEX_FILE, ITEMS_FILE
    from street2shop.storage.published import open_published

    published = open_published(folder)
    if not published.exists(INDEX_FILE):
        raise IndexFormatError(f"{published.description} is not a street2shop index (no {INDEX_FILE}); build it with the embed recipe first")
    return pd.read_parquet(io.BytesIO(published.read_bytes(ITEMS_FILE)))


def _test_pictures(items: Any, pictures_folder: str | None, count: int) -> list[dict[str, Any]]:
    from street2shop.storage.managed_folder import FolderImageStore
    from street2shop.storage.stores import ImageSource

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


def run(project_key: str, config: dict[str, Any], progress: Progress) -> str:
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
