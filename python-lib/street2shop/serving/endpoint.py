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


class EndpointError(RuntimeError):
    """A refused request where the API node offers no ``DkuCustomApiException`` (it then answers 500)."""

    def __init__(self, message: str, status: int):
        super().__init__(f"HTTP {status}: {message}")
        self.message = message
        self.http_status_code = status


class EndpointHandler:
    """Answers request bodies with a loaded :class:`Recommender`.

    An object rather than a closure: DSS's function server counts every function object in the
    endpoint file's namespace, and the file must define exactly one (its served function).
    """

    def __init__(self, recommender: Recommender):
        self.recommender = recommender

    def __call__(self, data: dict[str, Any], api_exception: Callable[..., Exception] | None = None) -> dict[str, Any]:
        """The response for ``data``; a bad request raises ``api_exception(message, http_status_code=4xx)``,
        or :class:`EndpointError` when the API node offers no such class."""
        try:
            return self.recommender.handle(data)
        except ApiError as err:
            if api_exception is None:
                raise EndpointError(err.message, err.status) from None
            raise api_exception(err.message, http_status_code=err.status) from None


def load_endpoint(folders: Sequence[str]) -> EndpointHandler:
    """Load the index of ``folders[0]`` and return the request handler.

    Args:
        folders: the endpoint's managed folders, as local paths (the API node's ``folders``).

    Returns:
        ``handle(data, api_exception)``: see :class:`EndpointHandler`; ``api_exception`` is the API
        node's ``DkuCustomApiException`` as found when the request is served.
    """
    from street2shop.index.search import SearchIndex

    if not folders:
        raise IndexFormatError("the endpoint has no managed folder: add the index folder to it")
    from street2shop.segmentation.person import person_model_if_installed

    recommender = Recommender(SearchIndex.load(folders[0]), read_limits(folders), person_model=person_model_if_installed())
    logger.info("street2shop endpoint ready: %d items, limits %s", len(recommender.index), recommender.limits.to_dict())
    return EndpointHandler(recommender)
