"""Macro street2shop-download-weights: a backbone's Keras ImageNet weights -> a managed folder, checked."""

from dataiku.runnables import Runnable

from street2shop.dss.boundary import run_component
from street2shop.dss.macros import download_weights


class DownloadWeights(Runnable):
    """Streams the weights file with timeouts and status checks, reporting progress in percent."""

    def __init__(self, project_key, config, plugin_config):
        self.project_key = project_key
        self.config = config
        self.plugin_config = plugin_config

    def get_progress_target(self):
        return download_weights.PROGRESS_TARGET

    def run(self, progress_callback):
        return run_component("street2shop-download-weights", lambda: download_weights.run(self.project_key, self.config, progress_callback))
