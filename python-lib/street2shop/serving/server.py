"""The local HTTP server: the API node's ``recommend`` URL and envelope, a health check, thumbnails and the page.

Stack: Flask (the WSGI app; DSS webapp backends are Flask too, so the page's routes are shared)
served by waitress (pure-Python WSGI server: a thread pool for concurrent requests, a request
body size limit, no C build, runs the same on Linux, macOS and Windows).
"""

from __future__ import annotations

import logging
import signal
import threading
import time
from pathlib import Path
from typing import Any

from street2shop.serving.page import PAGE_FILES, WEBAPP_DIR, add_page_routes, json_response, page_html, read_json_body
from street2shop.serving.recommend import ApiError, Limits, Recommender
from street2shop.serving.thumbnails import Thumbnails

logger = logging.getLogger(__name__)

SERVICE_ID = "street2shop"
ENDPOINT_ID = "recommend"
DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8000


def api_path(service_id: str = SERVICE_ID, endpoint_id: str = ENDPOINT_ID) -> str:
    """The API node's URL path of a Python-function endpoint."""
    return f"/public/api/v1/{service_id}/{endpoint_id}/run"


def create_app(
    recommender: Recommender,
    *,
    thumbnails: Thumbnails | None = None,
    service_id: str = SERVICE_ID,
    endpoint_id: str = ENDPOINT_ID,
    webapp_dir: Path = WEBAPP_DIR,
) -> Any:
    """The Flask app of the local server.

    Routes:
        ``POST /public/api/v1/<service>/<endpoint>/run``: the API node's endpoint, same body and
        envelope (``{"response", "timing", "apiContext"}``; errors ``{"errorType", "message"}``).
        ``GET /health``; ``GET /`` the page, ``/static/app.js|style.css``; ``/backend/...`` the
        page's routes (see :mod:`street2shop.serving.page`).
    """
    from flask import Flask, Response

    app = Flask("street2shop.serving")
    started = time.time()
    index_version = str(recommender.index.info.get("created_at", ""))

    def run_endpoint() -> Any:
        begun = time.perf_counter()
        try:
            result = recommender.handle(read_json_body(recommender.limits.max_body_bytes))
        except ApiError as err:
            error_type = "DkuCustomApiException" if err.status < 500 else "InternalError"
            return json_response({"errorType": error_type, "message": err.message, "detailedMessage": err.message, "code": err.status}, err.status)
        execution = round((time.perf_counter() - begun) * 1000, 3)
        return json_response(
            {
                "response": result,
                "timing": {"wait": 0, "functionInternal": result["timing_ms"]["total"], "execution": execution},
                "apiContext": {"serviceId": service_id, "endpointId": endpoint_id, "serviceGeneration": index_version},
            }
        )

    def health() -> Any:
        return json_response(
            {
                "status": "ok",
                "items": len(recommender.index),
                "index_created_at": index_version,
                "uptime_s": round(time.time() - started, 1),
                "endpoint": api_path(service_id, endpoint_id),
            }
        )

    def page() -> Any:
        if not (webapp_dir / "body.html").is_file():
            return json_response({"error": f"the page's files are not in {webapp_dir}"}, 404)
        return Response(page_html(webapp_dir), mimetype="text/html")

    def static_file(name: str) -> Any:
        if name not in PAGE_FILES or not (webapp_dir / name).is_file():
            return json_response({"error": "not found"}, 404)
        return Response((webapp_dir / name).read_bytes(), mimetype=PAGE_FILES[name])

    app.add_url_rule(api_path(service_id, endpoint_id), "api_run", run_endpoint, methods=["POST"])
    app.add_url_rule("/health", "health", health, methods=["GET"])
    app.add_url_rule("/", "page", page, methods=["GET"])
    app.add_url_rule("/static/<name>", "static_file", static_file, methods=["GET"])
    add_page_routes(app, recommender, thumbnails, prefix="/backend")

    @app.errorhandler(404)
    def not_found(_err: Any) -> Any:
        return json_response({"errorType": "NotFound", "message": f"no such route; the endpoint is POST {api_path(service_id, endpoint_id)}"}, 404)

    @app.errorhandler(405)
    def not_allowed(_err: Any) -> Any:
        return json_response({"errorType": "MethodNotAllowed", "message": "method not allowed on this route"}, 405)

    @app.after_request
    def security_headers(response: Any) -> Any:
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("Referrer-Policy", "no-referrer")
        if response.mimetype == "text/html":
            response.headers.setdefault(
                "Content-Security-Policy",
                "default-src 'self'; img-src 'self' data: blob:; script-src 'self'; style-src 'self'; connect-src 'self'",
            )
        return response

    return app


def build_app(
    index: Any,
    *,
    images: str | Path | None = None,
    limits: Limits | None = None,
    service_id: str = SERVICE_ID,
    endpoint_id: str = ENDPOINT_ID,
) -> Any:
    """Load an index (a folder, or a loaded ``SearchIndex``) and make the local server's Flask app."""
    from street2shop.index.search import SearchIndex
    from street2shop.storage.local import LocalImageStore
    from street2shop.storage.stores import ImageSource

    loaded = index if isinstance(index, SearchIndex) else SearchIndex.load(index)
    recommender = Recommender(loaded, limits)
    thumbnails = None
    if images is not None:
        thumbnails = Thumbnails(ImageSource(LocalImageStore(images)), loaded.items["image"].astype(str))
    return create_app(recommender, thumbnails=thumbnails, service_id=service_id, endpoint_id=endpoint_id)


def make_server(app: Any, *, host: str = DEFAULT_HOST, port: int = DEFAULT_PORT, threads: int = 8, max_body_bytes: int | None = None) -> Any:
    """A waitress server for ``app`` (not started); ``port=0`` picks a free port (``.effective_port``).

    The body limit here is a backstop above the app's own (which answers a JSON 413): waitress
    refuses anything larger before the app reads it.
    """
    from waitress import create_server

    body_limit = (max_body_bytes or Limits().max_body_bytes) + 1024 * 1024
    return create_server(
        app,
        host=host,
        port=port,
        threads=threads,
        max_request_body_size=body_limit,
        connection_limit=200,
        channel_timeout=60,
        ident="street2shop",
        clear_untrusted_proxy_headers=True,
    )


def stop_server(server: Any) -> None:
    """Stop a running waitress server from another thread: its ``run()`` then returns.

    The sockets are closed by the server's own loop thread (through its trigger): closed from
    here, they could vanish under the loop's ``select()``, which then fails with EBADF.
    """

    def close_all_channels() -> None:
        # The loop runs while its map holds channels: the listener, the trigger, open connections.
        for channel in list(server._map.values()):
            channel.close()

    server.trigger.pull_trigger(close_all_channels)
    server.task_dispatcher.shutdown()


class BackgroundServer:
    """A waitress server running in a daemon thread (tests, benchmarks); ``close()`` stops it."""

    def __init__(self, app: Any, *, host: str = DEFAULT_HOST, port: int = 0, threads: int = 8, max_body_bytes: int | None = None):
        self.server = make_server(app, host=host, port=port, threads=threads, max_body_bytes=max_body_bytes)
        self.host = host
        self.port = int(self.server.effective_port)
        self.url = f"http://{host}:{self.port}"
        self._thread = threading.Thread(target=self.server.run, name="street2shop-server", daemon=True)
        self._thread.start()

    def close(self) -> None:
        """Stop accepting, finish the workers and end the loop thread."""
        stop_server(self.server)
        self._thread.join(timeout=10)

    def __enter__(self) -> BackgroundServer:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


def curl_example(url: str, image: str | Path, *, service_id: str = SERVICE_ID, endpoint_id: str = ENDPOINT_ID, k: int = 5) -> str:
    """A shell command that queries the running server with a picture file."""
    return (
        f"printf '{{\"k\": {k}, \"image\": \"%s\"}}' \"$(base64 -w0 '{image}')\" | "
        f"curl -s -X POST -H 'Content-Type: application/json' --data-binary @- {url.rstrip('/')}{api_path(service_id, endpoint_id)}"
    )


def serve_forever(
    index: Any,
    images: str | Path | None = None,
    host: str = DEFAULT_HOST,
    port: int = DEFAULT_PORT,
    *,
    limits: Limits | None = None,
    threads: int = 8,
    on_ready: Any = None,
) -> None:
    """Serve the API, the page and the thumbnails until interrupted (Ctrl-C, or SIGTERM from a process manager).

    Args:
        index: an index folder or a loaded ``SearchIndex``.
        images: the catalogue's image folder (for thumbnails), or None.
        on_ready: called with the server's base URL once it listens (e.g. to print it).
    """
    app = build_app(index, images=images, limits=limits)
    server = make_server(app, host=host, port=port, threads=threads, max_body_bytes=(limits or Limits()).max_body_bytes)
    url = f"http://{host}:{server.effective_port}"
    logger.info("serving on %s (API: POST %s%s)", url, url, api_path())
    if on_ready is not None:
        on_ready(url)
    previous = None
    if threading.current_thread() is threading.main_thread():
        previous = signal.signal(signal.SIGTERM, _interrupt)
    try:
        server.run()
    except KeyboardInterrupt:
        pass
    finally:
        server.close()
        server.task_dispatcher.shutdown()
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)


def _interrupt(signum: int, frame: Any) -> None:
    """SIGTERM stops the server as Ctrl-C does."""
    raise KeyboardInterrupt
