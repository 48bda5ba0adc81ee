"""The local HTTP server: the API node's ``recommend`` URL and envelope, a health check, thumbnails and the page.

Stack: Flask (the WSGI app; DSS webapp backends are Flask too, so the page's routes are shared)
served by waitress (pure-Python WSGI server: a thread pool for concurrent requests, a request
body size limit, no C build, runs the same on Linux, macOS and Windows). Waitress is given a
deadline per request (:class:`DeadlineServer`): a client must deliver its headers and body within
it, however slowly it trickles them, so slow clients cannot hold every connection.
"""

from __future__ import annotations

import errno
import json
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
#: Seconds a client has to deliver one request's headers and body, from its first byte (or its connection).
DEFAULT_REQUEST_TIMEOUT_S = 20
#: Connections held open at once; beyond them waitress stops accepting until some close.
DEFAULT_MAX_CONNECTIONS = 1000


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
            response = json_response({"errorType": error_type, "message": err.message, "detailedMessage": err.message, "code": err.status}, err.status)
            response.headers.update(err.headers)
            return response
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

    @app.before_request
    def refuse_options() -> Any:
        from flask import request

        # Flask would answer an empty 200; this server offers no CORS, so OPTIONS is a method like any other it refuses.
        if request.method == "OPTIONS" and request.url_rule is not None:
            allowed = ", ".join(sorted(request.url_rule.methods - {"OPTIONS", "HEAD"}))
            response = json_response({"errorType": "MethodNotAllowed", "message": f"OPTIONS is not served; this route takes {allowed}"}, 405)
            response.headers["Allow"] = allowed
            return response
        return None

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
    person_model: Any = None,
) -> Any:
    """Load an index (a folder, or a loaded ``SearchIndex``) and make the local server's Flask app.

    With a ``person_model`` (``segmentation.person.PersonModel``), answers hold per-garment results
    when it finds a person.
    """
    from street2shop.index.search import SearchIndex
    from street2shop.storage.local import LocalImageStore
    from street2shop.storage.stores import ImageSource

    loaded = index if isinstance(index, SearchIndex) else SearchIndex.load(index)
    recommender = Recommender(loaded, limits, person_model=person_model)
    thumbnails = None
    if images is not None:
        thumbnails = Thumbnails(ImageSource(LocalImageStore(images)), loaded.items["image"].astype(str))
    return create_app(recommender, thumbnails=thumbnails, service_id=service_id, endpoint_id=endpoint_id)


def make_server(
    app: Any,
    *,
    host: str = DEFAULT_HOST,
    port: int = DEFAULT_PORT,
    threads: int = 8,
    max_body_bytes: int | None = None,
    request_timeout_s: float = DEFAULT_REQUEST_TIMEOUT_S,
    max_connections: int = DEFAULT_MAX_CONNECTIONS,
) -> Any:
    """A waitress server for ``app`` (not started); ``port=0`` picks a free port (``.effective_port``).

    Waitress refuses a body over the app's limit before the app reads it, with the same JSON 413
    the app gives (:class:`JsonErrorTask`). Each request must arrive whole within
    ``request_timeout_s`` (:class:`DeadlineServer`); idle keep-alive connections close after 60 s.
    """
    from waitress.adjustments import Adjustments
    from waitress.task import ThreadedTaskDispatcher

    adjustments = Adjustments(
        host=host,
        port=port,
        threads=threads,
        max_request_body_size=max_body_bytes or Limits().max_body_bytes,
        connection_limit=max_connections,
        channel_timeout=60,
        cleanup_interval=1,  # how often deadlines are checked
        asyncore_use_poll=True,  # select() cannot watch more than 1024 sockets
        ident="street2shop",
        clear_untrusted_proxy_headers=True,
    )
    dispatcher = ThreadedTaskDispatcher()
    dispatcher.set_thread_count(threads)
    server_class = _deadline_server_class()
    return server_class(app, {}, dispatcher=dispatcher, adj=adjustments, sockinfo=adjustments.listen[0], request_timeout_s=request_timeout_s)


def _deadline_server_class() -> type:
    """:class:`DeadlineServer`, built on first use so that importing this module does not import waitress."""
    global DeadlineServer, JsonErrorTask
    if DeadlineServer is not None:
        return DeadlineServer
    from waitress.channel import HTTPChannel
    from waitress.server import TcpWSGIServer
    from waitress.task import ErrorTask

    class _JsonErrorTask(ErrorTask):
        """Waitress's own refusals (body too large, bad headers) as the API's JSON errors, not plain text."""

        def execute(self) -> None:
            error = self.request.error
            if error.code == 413:
                message = f"the request body is over the limit of {self.channel.adj.max_request_body_size} bytes"
            else:
                message = f"{error.reason}: {' '.join(str(error.body).split())[:200]}"
            body = json.dumps({"errorType": "DkuCustomApiException", "message": message, "detailedMessage": message, "code": error.code}).encode()
            self.status = f"{error.code} {error.reason}"
            self.response_headers.extend([("Content-Type", "application/json"), ("X-Content-Type-Options", "nosniff")])
            self.set_close_on_finish()
            self.content_length = len(body)
            self.write(body)

    class _DeadlineChannel(HTTPChannel):
        """A connection that records when the request it is receiving began (its first byte, or the connection)."""

        error_task_class = _JsonErrorTask

        def __init__(self, *args: Any, **kwargs: Any):
            super().__init__(*args, **kwargs)
            self.request_started: float | None = self.creation_time

        def received(self, data: bytes) -> bool:
            result = super().received(data)
            if self.request is None:
                self.request_started = None  # nothing half-received: idle, channel_timeout applies
            elif self.request_started is None:
                self.request_started = time.time()
            return result

    class _DeadlineServer(TcpWSGIServer):
        """Waitress closing every connection that has not delivered its request within the deadline."""

        channel_class = _DeadlineChannel

        def __init__(self, *args: Any, request_timeout_s: float = DEFAULT_REQUEST_TIMEOUT_S, **kwargs: Any):
            self.request_timeout_s = float(request_timeout_s)
            super().__init__(*args, **kwargs)

        def maintenance(self, now: float) -> None:
            super().maintenance(now)
            cutoff = now - self.request_timeout_s
            for channel in list(self.active_channels.values()):
                started = getattr(channel, "request_started", None)
                if started is not None and started < cutoff and not channel.requests:
                    channel.will_close = True  # the loop closes it on its next pass

    DeadlineServer, JsonErrorTask = _DeadlineServer, _JsonErrorTask
    return DeadlineServer


#: The waitress server class with request deadlines, and its JSON error task (made by :func:`make_server`).
DeadlineServer: Any = None
JsonErrorTask: Any = None


def stop_server(server: Any) -> None:
    """Stop a running waitress server from another thread: its ``run()`` then returns.

    The sockets are closed by the server's own loop thread (through its trigger): closed from
    here, they could vanish under the loop's ``select()``, which then fails with EBADF.
    """

    def close_all_channels() -> None:
        # The loop runs while its map holds channels: the listener, the trigger, open connections.
        for channel in list(server._map.values()):
            channel.close()

    try:
        server.trigger.pull_trigger(close_all_channels)
    except OSError as err:
        # The trigger was closed already (a channel error closes it through the loop): nothing can
        # hand the thunk to the loop any more, and closing the channels here empties the loop's map,
        # which ends it.
        if err.errno != errno.EBADF:
            raise
        logger.debug("server loop already stopped (%s): closing its channels directly", err)
        close_all_channels()
    server.task_dispatcher.shutdown()


class BackgroundServer:
    """A waitress server running in a daemon thread (tests, benchmarks); ``close()`` stops it."""

    def __init__(self, app: Any, *, host: str = DEFAULT_HOST, port: int = 0, threads: int = 8, max_body_bytes: int | None = None, **server_options: Any):
        self.server = make_server(app, host=host, port=port, threads=threads, max_body_bytes=max_body_bytes, **server_options)
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
    request_timeout_s: float = DEFAULT_REQUEST_TIMEOUT_S,
    max_connections: int = DEFAULT_MAX_CONNECTIONS,
    garments: bool = True,
) -> None:
    """Serve the API, the page and the thumbnails until interrupted (Ctrl-C, or SIGTERM from a process manager).

    Args:
        index: an index folder or a loaded ``SearchIndex``.
        images: the catalogue's image folder (for thumbnails), or None.
        on_ready: called with the server's base URL once it listens (e.g. to print it).
        garments: load the person model (its files installed at set-up; a missing one is an error
            naming the set-up command) and answer per garment when a person is found.
    """
    person_model = None
    if garments:
        from street2shop.segmentation.person import PersonModel

        person_model = PersonModel()
    app = build_app(index, images=images, limits=limits, person_model=person_model)
    server = make_server(
        app, host=host, port=port, threads=threads, max_body_bytes=(limits or Limits()).max_body_bytes,
        request_timeout_s=request_timeout_s, max_connections=max_connections,
    )
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
