"""Step street2shop-refresh-api: new package -> deployment updated and checked; rolled back if the checks fail.

``main`` rolls the service out with :func:`street2shop.serving.deploy.roll_out`.
"""

from __future__ import annotations

import dataiku
from dataiku.customstep import get_step_config
from dataiku.scenario import Scenario

from street2shop.dss.plugin_files import plugin_root
from street2shop.dss.serving_params import refresh_params
from street2shop.errors import InvalidParameter
from street2shop.serving import deploy


def main() -> deploy.DeployReport:
    """New package of the service -> deployment updated, checked, rolled back on failure; scenario variables set."""
    # 1. Read the config and find the service.
    params = refresh_params(get_step_config() or {})
    client = dataiku.api_client()
    project = client.get_project(dataiku.default_project_key())
    if params.service_id not in [item["id"] for item in project.list_api_services()]:
        raise InvalidParameter(f"API service {params.service_id!r} does not exist: run the deploy-api macro first")
    service = project.get_api_service(params.service_id)
    if params.library_folder:
        # The plugin may have been updated since the last package: ship its current library.
        library = deploy.ensure_library_folder(project, params.library_folder)
        deploy.upload_library(library, deploy.bundle_python_lib(plugin_root() / "python-lib"))
    # 2. One library call: roll the new package out; 3. the scenario variables say how it went.
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
