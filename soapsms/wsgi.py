"""The WSGI app gunicorn serves: /soap, /soap12, /health and /metrics."""

from __future__ import annotations

import dataclasses
import json
import logging
from collections.abc import Callable, Iterable
from typing import Any

from soapsms import metrics
from soapsms.config import Settings, load_settings
from soapsms.soap.app import SoapEndpoint
from soapsms.usecases.health import queue_stats
from soapsms.usecases.runtime import Runtime

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

    def __call__(
        self, environ: dict[str, Any], start_response: StartResponse
    ) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "") or "/"
        if path != "/" and path.endswith("/"):
            path = path.rstrip("/")
        handler = self.routes.get(path)
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

    def health(
        self, environ: dict[str, Any], start_response: StartResponse
    ) -> Iterable[bytes]:
        try:
            # Reaching the store is what a load balancer acts on; the queue and
            # the dispatcher's heartbeat are for the operator's eyes.
            figures = dataclasses.asdict(queue_stats(self.runtime))
            status, body = "200 OK", {"status": "ok", "store": "reachable", **figures}
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
        data = metrics.exposition()
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
