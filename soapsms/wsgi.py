"""The WSGI app gunicorn serves: /soap, /soap12, /health, /metrics and the web
pages (/portal, /admin, /static)."""

from __future__ import annotations

import dataclasses
import json
import logging
from collections.abc import Callable, Iterable
from typing import Any

from soapsms import metrics
from soapsms.config import Settings, load_settings
from soapsms.soap.app import SoapEndpoint, client_address, public_url
from soapsms.usecases.carriers import connector_health
from soapsms.usecases.health import health_stats, stalled
from soapsms.usecases.runtime import Runtime
from soapsms.web import app as web
from soapsms.web.security import ENV_CLIENT_IP, ENV_SCHEME

logger = logging.getLogger(__name__)

StartResponse = Callable[..., Any]


class GatewayApp:
    """Routes by path; each endpoint owns its own HTTP rules."""

    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime
        self.routes: dict[
            str, Callable[[dict[str, Any], StartResponse], Iterable[bytes]]
        ] = {
            "/soap": SoapEndpoint(runtime, "1.1"),
            "/soap12": SoapEndpoint(runtime, "1.2"),
            "/health": self.health,
            "/metrics": self.serve_metrics,
        }
        self.web = web.create_app(runtime)

    def __call__(
        self, environ: dict[str, Any], start_response: StartResponse
    ) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "") or "/"
        if path != "/" and path.endswith("/"):
            path = path.rstrip("/")
        handler = self.routes.get(path)
        if handler is None and path.startswith(web.PREFIXES):
            return self.serve_web(environ, start_response)
        if handler is None:
            body = (
                b"not found; the SOAP endpoints are /soap and /soap12 (WSDL: ?wsdl)\n"
            )
            start_response(
                "404 Not Found",
                [
                    ("Content-Type", "text/plain; charset=utf-8"),
                    ("Content-Length", str(len(body))),
                ],
            )
            return [body]
        return handler(environ, start_response)

    def serve_web(
        self, environ: dict[str, Any], start_response: StartResponse
    ) -> Iterable[bytes]:
        # The client and scheme as a trusted proxy tells them, worked out by
        # SOAP's rules (the web adapter may not import the SOAP one).
        settings = self.runtime.settings
        environ[ENV_CLIENT_IP] = client_address(environ, settings)
        environ[ENV_SCHEME] = public_url(environ, settings).partition(":")[0]
        return self.web(environ, start_response)

    def health(
        self, environ: dict[str, Any], start_response: StartResponse
    ) -> Iterable[bytes]:
        try:
            # Reaching the store, and a dispatcher working when messages are
            # due, is what a load balancer or supervisor acts on; the figures
            # are for the operator's eyes.
            stats = health_stats(self.runtime)
            figures = dataclasses.asdict(stats)
            if stalled(self.runtime, stats):
                status, body = (
                    "503 Service Unavailable",
                    {"status": "no dispatcher", "store": "reachable", **figures},
                )
            else:
                status, body = (
                    "200 OK",
                    {"status": "ok", "store": "reachable", **figures},
                )
            body["connectors"] = connector_health(self.runtime)
            # A gateway that can send nothing is not healthy, whatever its store.
            if not self.runtime.settings.routes.configured():
                status = "503 Service Unavailable"
                body = {**body, "status": "no_carrier", "carrier": "none configured"}
            else:
                body["carrier"] = "configured"
        except Exception as exc:  # noqa: BLE001 - any failure means "not healthy"
            logger.warning("health check failed: %s", exc)
            status, body = (
                "503 Service Unavailable",
                {"status": "unavailable", "store": "unreachable"},
            )
        data = json.dumps(body).encode()
        start_response(
            status,
            [("Content-Type", "application/json"), ("Content-Length", str(len(data)))],
        )
        return [data]

    def serve_metrics(
        self, environ: dict[str, Any], start_response: StartResponse
    ) -> Iterable[bytes]:
        # The queue's gauges (depth, oldest due message, heartbeat, store up),
        # read at scrape time, so that this endpoint answers them without the
        # dispatcher's own.
        from soapsms.dispatch.metrics_server import QueueCollector

        data = metrics.exposition(
            lambda registry: registry.register(QueueCollector(self.runtime))
        )
        start_response(
            "200 OK",
            [
                ("Content-Type", metrics.CONTENT_TYPE),
                ("Content-Length", str(len(data))),
            ],
        )
        return [data]


def create_app(
    settings: Settings | None = None, runtime: Runtime | None = None
) -> GatewayApp:
    """Build the app; the store engine is created here, not at import."""
    if runtime is None:
        runtime = Runtime(settings or load_settings())
    return GatewayApp(runtime)
