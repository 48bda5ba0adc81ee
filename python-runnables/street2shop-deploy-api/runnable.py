"""Macro street2shop-deploy-api: the recommend endpoint into an API service, packaged, optionally deployed."""

from dataiku.runnables import Runnable

from street2shop.dss.boundary import run_component
from street2shop.dss.macros import deploy_api


class DeployApi(Runnable):
    """Creates or updates the service and its endpoint, makes a package, deploys it if asked."""

    def __init__(self, project_key, config, plugin_config):
        self.project_key = project_key
        self.config = config
        self.plugin_config = plugin_config

    def get_progress_target(self):
        return deploy_api.PROGRESS_TARGET

    def run(self, progress_callback):
        return run_component("street2shop-deploy-api", lambda: deploy_api.run(self.project_key, self.config, progress_callback))
