"""What the API-node endpoint's code calls: load the index from ``folders[0]`` once, then answer requests."""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Callable, Sequence
from typing import Any

from street2shop.errors import IndexFormatError
from street2shop.serving.deploy import ENDPOINT_CONFIG
from street2shop.serving.recommend import ApiError, Limits, Recommender

logger = logging.getLogger(__name__)


def read_limits(folders: Sequence[str]) -> Limits:
    """The limits in the first ``street2shop-lib/endpoint.json`` among the folders (defaults if none)."""
    for folder in folders:
        path = os.path.join(folder, *ENDPOINT_CONFIG.split("/"))
        if os.path.isfile(path):
            try:
                with open(path, encoding="utf-8") as stream:
                    return Limits.from_dict(json.load(stream).get("limits"))
            except (OSError, ValueError, AttributeError) as err:
                raise IndexFormatError(f"{path}: unreadable endpoint config ({err})") from err
    return Limits()


def load_endpoint(folders: Sequence[str], *, api_exception: Callable[..., Exception]) -> Callable[[dict[str, Any]], dict[str, Any]]:
    """Load the index of ``folders[0]`` and return the request handler.

    Args:
        folders: the endpoint's managed folders, as local paths (the API node's ``folders``).
        api_exception: the API node's ``DkuCustomApiException`` (``message, http_status_code``).

    Returns:
        ``handle(data)``: the response for a request body, raising ``api_exception`` with the
        HTTP status (4xx for bad requests) otherwise.
    """
    from street2shop.index.search import SearchIndex

    if not folders:
        raise IndexFormatError("the endpoint has no managed folder: add the index folder to it")
    recommender = Recommender(SearchIndex.load(folders[0]), read_limits(folders))
    logger.info("street2shop endpoint ready: %d items, limits %s", len(recommender.index), recommender.limits.to_dict())

    def handle(data: dict[str, Any]) -> dict[str, Any]:
        try:
            return recommender.handle(data)
        except ApiError as err:
            raise api_exception(err.message, http_status_code=err.status) from None

    return handle
