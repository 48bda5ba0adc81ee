"""The web page's backend routes, shared by the local server and the DSS webapp backend (Flask).

The page (``webapps/street2shop-visual-search/``: body.html, app.js, style.css) calls
``<backend>/config``, ``<backend>/recommend`` and ``<backend>/thumbnail?image=...``. In DSS the
backend is the webapp's injected Flask ``app`` (``getWebAppBackendUrl``); locally the same routes
sit under ``/backend`` of the local server.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from street2shop.serving.recommend import ApiError, Recommender
from street2shop.serving.thumbnails import Thumbnails

#: The plugin webapp's folder: the page's one copy, served by the local server too.
WEBAPP_DIR = Path(__file__).resolve().parents[3] / "webapps" / "street2shop-visual-search"
PAGE_FILES = {"app.js": "application/javascript", "style.css": "text/css"}


def read_json_body(limit: int) -> Any:
    """The current Flask request's JSON body, read up to ``limit`` bytes.

    Raises:
        ApiError: 413 over the limit, 400 when the body is not JSON.
    """
    from flask import request

    length = request.content_length
    if length is not None and length > limit:
        raise ApiError(f"the request body is {length} bytes; the limit is {limit} bytes", 413)
    data = request.stream.read(limit + 1)
    if len(data) > limit:
        raise ApiError(f"the request body is over the limit of {limit} bytes", 413)
    if not data:
        raise ApiError("empty request body: send a JSON object")
    try:
        return json.loads(data)
    except (ValueError, RecursionError) as err:
        raise ApiError(f"the request body is not valid JSON: {str(err)[:200]}") from None


def json_response(payload: Any, status: int = 200) -> Any:
    """A Flask JSON response (``json.dumps``, no HTML escaping games)."""
    from flask import Response

    return Response(json.dumps(payload, ensure_ascii=False), status=status, mimetype="application/json")


def add_page_routes(app: Any, recommender: Recommender, thumbnails: Thumbnails | None = None, *, prefix: str = "") -> None:
    """Register ``{prefix}/config``, ``{prefix}/recommend`` and ``{prefix}/thumbnail`` on a Flask app."""
    from flask import Response, request

    def config() -> Any:
        return json_response({**recommender.page_config(), "thumbnails": thumbnails is not None})

    def recommend() -> Any:
        try:
            return json_response(recommender.handle(read_json_body(recommender.limits.max_body_bytes)))
        except ApiError as err:
            response = json_response({"error": err.message}, err.status)
            response.headers.update(err.headers)
            return response

    def thumbnail() -> Any:
        if thumbnails is None:
            return json_response({"error": "no catalogue pictures are configured"}, 404)
        try:
            data = thumbnails.get(request.args.get("image"))
        except ApiError as err:
            return json_response({"error": err.message}, err.status)
        response = Response(data, mimetype="image/jpeg")
        response.headers["Cache-Control"] = "private, max-age=3600"
        return response

    name = prefix.strip("/").replace("/", "_") or "root"
    app.add_url_rule(f"{prefix}/config", f"street2shop_{name}_config", config, methods=["GET"])
    app.add_url_rule(f"{prefix}/recommend", f"street2shop_{name}_recommend", recommend, methods=["POST"])
    app.add_url_rule(f"{prefix}/thumbnail", f"street2shop_{name}_thumbnail", thumbnail, methods=["GET"])


def page_html(webapp_dir: Path = WEBAPP_DIR, *, static_prefix: str = "static/") -> str:
    """The page as DSS shows it: body.html inside a document that loads style.css and app.js."""
    body = (webapp_dir / "body.html").read_text(encoding="utf-8")
    return (
        "<!doctype html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
        "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
        "<title>street2shop visual search</title>\n"
        f"<link rel=\"stylesheet\" href=\"{static_prefix}style.css\">\n</head>\n<body>\n{body}\n"
        f"<script src=\"{static_prefix}app.js\"></script>\n</body>\n</html>\n"
    )
