"""Webapp street2shop-visual-search: the search page's backend, on the Flask ``app`` DSS injects.

``main`` loads the index (:class:`street2shop.index.search.SearchIndex`) and registers the page's
routes (:func:`street2shop.serving.page.add_page_routes`).
"""

from __future__ import annotations

import logging
from typing import Any

import dataiku
from dataiku.customwebapp import get_webapp_config

from street2shop.dss.serving_params import webapp_params
from street2shop.errors import Street2ShopError
from street2shop.serving.page import add_page_routes, json_response

logger = logging.getLogger(__name__)


def main(app: Any) -> None:
    """Load the index named by the webapp's config and register the page's routes on ``app``.

    When the index cannot be loaded the routes still exist and answer 503 with the reason, so the
    page shows it instead of a dead backend.
    """
    from street2shop.index.search import SearchIndex
    from street2shop.serving.recommend import Recommender
    from street2shop.serving.thumbnails import Thumbnails
    from street2shop.storage.managed_folder import FolderImageStore
    from street2shop.storage.stores import ImageSource

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        params = webapp_params(get_webapp_config() or {})
        index = SearchIndex.load(dataiku.Folder(params.index_folder))
        thumbnails = None
        if params.pictures_folder:
            source = ImageSource(FolderImageStore(dataiku.Folder(params.pictures_folder)))
            thumbnails = Thumbnails(source, index.items["image"].astype(str))
        from street2shop.segmentation.person import person_model_if_installed

        add_page_routes(app, Recommender(index, params.limits, person_model=person_model_if_installed()), thumbnails)
        logger.info("visual search ready on %d catalogue pictures", len(index))
    except Street2ShopError as err:
        logger.error("visual search unavailable: %s", err)
        _add_error_routes(app, str(err))


def _add_error_routes(app: Any, message: str) -> None:
    def unavailable() -> Any:
        return json_response({"error": message}, 503)

    for route in ("/config", "/thumbnail"):
        app.add_url_rule(route, f"street2shop_unavailable{route.replace('/', '_')}", unavailable, methods=["GET"])
    app.add_url_rule("/recommend", "street2shop_unavailable_recommend", unavailable, methods=["POST"])
