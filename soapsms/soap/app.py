"""SOAP endpoints as WSGI apps: Spyne underneath, HTTP rules of the contract around it.

Spyne sends no 401 and no 413 by itself, caches the WSDL of the first request
(arskom/spyne#604) and trusts no proxy; those parts are done here.
"""

from __future__ import annotations

import base64
import binascii
import io
import ipaddress
import logging
from collections.abc import Callable, Iterable
from typing import Any

from spyne import Application
from spyne import const as spyne_const
from spyne.server.wsgi import WsgiApplication

from soapsms.config import Settings
from soapsms.soap import wsdl
from soapsms.soap.fast_path import Direct
from soapsms.soap.protocol import GatewaySoap11, GatewaySoap12
from soapsms.soap.service import ENV_BASIC, ENV_CLIENT_IP, ENV_RUNTIME, SmsService
from soapsms.soap.types import NS
from soapsms.usecases.runtime import Runtime

logger = logging.getLogger(__name__)

StartResponse = Callable[..., Any]
Environ = dict[str, Any]


def quiet_spyne_logs() -> None:
    """Spyne logs every client fault with a traceback, and whole request
    documents (passwords included) at DEBUG; our own per-call line says what
    matters, so its loggers are held back."""
    logging.getLogger("spyne").setLevel(logging.WARNING)
    for name in ("spyne.application.client", "spyne.server", "spyne.protocol"):
        logging.getLogger(name).setLevel(logging.CRITICAL)


def build_application(version: str, max_depth: int = 24) -> Application:
    quiet_spyne_logs()
    # Spyne runs a full gc.collect() after a request at most once a second,
    # to close file descriptors of attachments we never take; on a large heap
    # that adds tens of milliseconds to one request a second (our p99).
    spyne_const.MIN_GC_INTERVAL = float("inf")
    protocol = GatewaySoap11 if version == "1.1" else GatewaySoap12
    return Application(
        [SmsService],
        tns=NS,
        name=wsdl.SERVICE,
        in_protocol=protocol(validator="lxml", max_depth=max_depth),
        out_protocol=protocol(),
    )


def client_address(environ: Environ, settings: Settings) -> str:
    """The TCP peer, or the address a trusted proxy says it forwarded for."""
    peer = environ.get("REMOTE_ADDR", "")
    forwarded = environ.get("HTTP_X_FORWARDED_FOR")
    if not forwarded or not _trusted(peer, settings):
        return peer
    # Walk from the right: the last hop not added by one of our proxies.
    hops = [h.strip() for h in forwarded.split(",") if h.strip()]
    for hop in reversed(hops):
        if not _trusted(hop, settings):
            return hop
    return hops[0] if hops else peer


def _trusted(address: str, settings: Settings) -> bool:
    if not settings.trusted_networks:
        return False
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(ip in net for net in settings.trusted_networks)


def public_url(environ: Environ, settings: Settings) -> str:
    """Where clients should send requests for this endpoint."""
    path = environ.get("SCRIPT_NAME", "") + environ.get("PATH_INFO", "")
    if settings.public_url:
        return settings.public_url.rstrip("/") + path
    scheme = environ.get("wsgi.url_scheme", "http")
    host = environ.get("HTTP_HOST") or (
        f"{environ.get('SERVER_NAME', 'localhost')}:{environ.get('SERVER_PORT', '80')}"
    )
    if _trusted(environ.get("REMOTE_ADDR", ""), settings):
        scheme = environ.get("HTTP_X_FORWARDED_PROTO", scheme).split(",")[0].strip()
        host = environ.get("HTTP_X_FORWARDED_HOST", host).split(",")[0].strip()
    return f"{scheme}://{host}{path}"


def _basic_credentials(environ: Environ) -> tuple[str, str] | None:
    header = environ.get("HTTP_AUTHORIZATION", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() != "basic" or not value.strip():
        return None
    try:
        decoded = base64.b64decode(value.strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        return None
    user, sep, password = decoded.partition(":")
    if not sep or not user or not password:
        return None
    return user, password


def _plain(
    start_response: StartResponse,
    status: str,
    body: bytes,
    extra: Iterable[tuple[str, str]] = (),
) -> list[bytes]:
    headers = [
        ("Content-Type", "text/plain; charset=utf-8"),
        ("Content-Length", str(len(body))),
    ]
    start_response(status, headers + list(extra))
    return [body]


class SoapEndpoint:
    """One SOAP version's endpoint: WSDL on GET ?wsdl, calls on POST."""

    def __init__(self, runtime: Runtime, version: str) -> None:
        self.runtime = runtime
        self.settings = runtime.settings
        self.version = version
        self.application = build_application(version, self.settings.max_xml_depth)
        self.wsgi = WsgiApplication(
            self.application, max_content_length=self.settings.max_body_bytes
        )
        self.wsdl = wsdl.build(self.application, version)
        self.direct = Direct(self.wsgi)

    def __call__(
        self, environ: Environ, start_response: StartResponse
    ) -> Iterable[bytes]:
        method = environ.get("REQUEST_METHOD", "GET").upper()
        if method == "GET":
            query = environ.get("QUERY_STRING", "").lower()
            if query.split("&")[0].split("=")[0] == "wsdl":
                body = wsdl.with_location(self.wsdl, public_url(environ, self.settings))
                start_response(
                    "200 OK",
                    [
                        ("Content-Type", "text/xml; charset=utf-8"),
                        ("Content-Length", str(len(body))),
                    ],
                )
                return [body]
            return _plain(
                start_response,
                "404 Not Found",
                b"GET ?wsdl for the service description\n",
            )
        if method != "POST":
            return _plain(
                start_response,
                "405 Method Not Allowed",
                b"POST a SOAP envelope\n",
                [("Allow", "GET, POST")],
            )
        body = self._read_body(environ)
        if body is None:
            return _plain(
                start_response,
                "413 Request Entity Too Large",
                b"request body too large\n",
            )
        environ["wsgi.input"] = io.BytesIO(body)
        environ["CONTENT_LENGTH"] = str(len(body))
        environ.setdefault("CONTENT_TYPE", "text/xml")
        environ[ENV_RUNTIME] = self.runtime
        environ[ENV_CLIENT_IP] = client_address(environ, self.settings)
        environ[ENV_BASIC] = _basic_credentials(environ)
        answer = self.direct(body, environ, start_response)
        if answer is not None:
            return answer
        return self.wsgi(environ, start_response)

    def _read_body(self, environ: Environ) -> bytes | None:
        """The body, or None when it is over the limit (refused before reading)."""
        limit = self.settings.max_body_bytes
        length_header = environ.get("CONTENT_LENGTH") or ""
        stream = environ["wsgi.input"]
        if length_header.strip():
            try:
                length = int(length_header)
            except ValueError:
                length = -1
            if length > limit:
                return None
            if length >= 0:
                return stream.read(length)
        data = stream.read(limit + 1)
        return None if len(data) > limit else data
