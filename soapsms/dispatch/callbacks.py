"""Status callbacks: drain the durable outbox in a thread of its own, POST, sign.

Each event is POSTed as `text/xml; charset=utf-8`:

    <StatusCallback xmlns="urn:soapsms:v1">
      <EventId/> <OccurredAt/> <MessageStatus>…as in GetStatus…</MessageStatus>
    </StatusCallback>

with `X-Soapsms-Signature: t=<unix time>,v1=<hex HMAC-SHA256 of "<t>.<body>">`
keyed with the account's callback secret (no header when the account has
none). Any 2xx is success; anything else is retried with back-off for 24
hours (soapsms.usecases.dispatching.callbacks). Targets whose addresses are
not global (soapsms.domain.callback_target) are refused unless
`allow_private_callbacks`, and the connection goes to exactly the address
that was checked, so a second DNS answer cannot turn it inward. One event's
failure, whatever it is, is that event's alone.
"""

from __future__ import annotations

import hashlib
import hmac
import http.client
import ipaddress
import logging
import socket
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from typing import Protocol
from urllib.parse import urlsplit

from soapsms.domain import callback_target, status_fields
from soapsms.domain.timestamps import format_utc
from soapsms.errors import CallbackRefused, Unavailable
from soapsms.usecases.dispatching.callbacks import (
    PendingCallback,
    callback_failed,
    callbacks_delivered,
    claim_callbacks,
)
from soapsms.usecases.runtime import Runtime

logger = logging.getLogger(__name__)

NS = "urn:soapsms:v1"
SIGNATURE_HEADER = "X-Soapsms-Signature"
_TIMEOUT = 10.0
_LEASE = timedelta(seconds=60)
_BATCH = 50
_IDLE = 0.5


class Transport(Protocol):
    """POSTs a body to `address` (the checked IP the URL's host resolved to)
    and returns the HTTP status; raises OSError when unreachable."""

    def __call__(
        self,
        url: str,
        body: bytes,
        headers: dict[str, str],
        timeout: float,
        address: str,
    ) -> int: ...


def check_target(url: str, allow_private: bool) -> str:
    """The address to connect to: refuse URLs that are not complete http(s)
    ones and, unless allowed, hosts with any non-global address (also
    through DNS)."""
    try:
        parts = callback_target.check_url(url)
    except callback_target.BadUrl as exc:
        raise CallbackRefused(f"bad callback URL: {exc}") from exc
    host = parts.hostname or ""
    default_port = 443 if parts.scheme == "https" else 80
    try:
        infos = socket.getaddrinfo(
            host, parts.port or default_port, type=socket.SOCK_STREAM
        )
    except (OSError, UnicodeError) as exc:
        raise OSError(f"cannot resolve {host}: {exc}") from exc
    addresses = [ipaddress.ip_address(str(info[4][0]).split("%")[0]) for info in infos]
    if not addresses:
        raise OSError(f"cannot resolve {host}: no address")
    if not allow_private:
        for address in addresses:
            if not callback_target.is_public(address):
                raise CallbackRefused(
                    f"{host} resolves to a non-public address {address}"
                )
    return str(addresses[0])


def http_post(
    url: str, body: bytes, headers: dict[str, str], timeout: float, address: str
) -> int:
    """The default transport: one HTTP/1.1 request to `address` (TLS checked
    against the URL's host), no redirects followed."""
    parts = urlsplit(url)
    connection_class = (
        http.client.HTTPSConnection
        if parts.scheme == "https"
        else http.client.HTTPConnection
    )
    connection = connection_class(parts.hostname or "", parts.port, timeout=timeout)
    port = connection.port

    def pinned(_: object, *args: object, **kwargs: object) -> socket.socket:
        return socket.create_connection((address, port), *args, **kwargs)  # type: ignore[arg-type]

    # http.client resolves the host again in connect(); this connects to the
    # address that was checked instead (the Host header and SNI keep the name).
    connection._create_connection = pinned  # type: ignore[attr-defined]
    try:
        path = parts.path or "/"
        if parts.query:
            path += "?" + parts.query
        connection.request("POST", path, body=body, headers=headers)
        response = connection.getresponse()
        response.read(65536)
        return response.status
    finally:
        connection.close()


# The contract's MessageStatus element, as in GetStatus but unprefixed.
_status_xml = status_fields.xml_writer("")


def render(event: PendingCallback) -> bytes:
    return (
        '<?xml version="1.0" encoding="utf-8"?>'
        f'<StatusCallback xmlns="{NS}">'
        f"<EventId>{event.event_id}</EventId>"
        f"<OccurredAt>{format_utc(event.occurred_at)}</OccurredAt>"
        f"{_status_xml(event.status)}</StatusCallback>"
    ).encode()


def signature(secret: str, body: bytes, at: int) -> str:
    digest = hmac.new(secret.encode(), f"{at}.".encode() + body, hashlib.sha256)
    return f"t={at},v1={digest.hexdigest()}"


class CallbackSender:
    """Drains the outbox in its own thread (and a few for slow receivers)."""

    def __init__(
        self,
        rt: Runtime,
        owner: str,
        transport: Transport | None = None,
        clock: Callable[[], float] = time.time,
        workers: int = 4,
    ) -> None:
        self.rt = rt
        self.owner = owner
        self.transport: Transport = transport or http_post
        self.clock = clock
        self.workers = workers
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(
            target=self._run, name="dispatch-callbacks", daemon=True
        )
        self._thread.start()

    def stop(self) -> None:
        self._stopping.set()
        if self._thread is not None:
            self._thread.join(timeout=_TIMEOUT + 5)

    def _run(self) -> None:
        with ThreadPoolExecutor(self.workers, thread_name_prefix="callback") as pool:
            while not self._stopping.is_set():
                try:
                    sent = self.send_due(pool)
                except Unavailable:
                    sent = 0
                except Exception:
                    logger.exception("callback sender failed; going on")
                    sent = 0
                if sent < _BATCH:
                    self._stopping.wait(_IDLE)

    def send_due(self, pool: ThreadPoolExecutor) -> int:
        """POST one batch of due events; how many were tried."""
        events = claim_callbacks(self.rt, self.owner, _BATCH, _LEASE)
        if not events:
            return 0
        # A message's events go in order; different messages in parallel.
        by_message: dict[str, list[PendingCallback]] = {}
        for event in events:
            by_message.setdefault(event.status.message_id, []).append(event)
        futures = [pool.submit(self._send_in_order, e) for e in by_message.values()]
        delivered: list[str] = []
        for future in futures:
            try:
                delivered.extend(future.result())
            except Exception:  # a store error: the leases run out, then a retry
                logger.exception("recording a status callback's outcome failed")
        callbacks_delivered(self.rt, delivered)
        return len(events)

    def _send_in_order(self, events: list[PendingCallback]) -> list[str]:
        delivered = []
        for index, event in enumerate(events):
            error, permanent = self._send(event)
            if error is None:
                delivered.append(event.event_id)
                continue
            callback_failed(self.rt, event.event_id, error, permanent=permanent)
            for later in events[index + 1 :]:
                callback_failed(
                    self.rt,
                    later.event_id,
                    "an earlier event of the message is pending",
                )
            break
        return delivered

    def _send(self, event: PendingCallback) -> tuple[str | None, bool]:
        """None when delivered, else (why, whether retrying is pointless)."""
        body = render(event)
        headers = {"Content-Type": "text/xml; charset=utf-8", "User-Agent": "soapsms"}
        if event.secret:
            headers[SIGNATURE_HEADER] = signature(event.secret, body, int(self.clock()))
        try:
            address = check_target(event.url, self.rt.settings.allow_private_callbacks)
            code = self.transport(event.url, body, headers, _TIMEOUT, address)
        except CallbackRefused as exc:
            return str(exc), True
        except (OSError, http.client.HTTPException) as exc:
            return f"{type(exc).__name__}: {exc}", False
        except Exception as exc:  # noqa: BLE001 - this event's failure, no one else's
            logger.exception("status callback %s failed", event.event_id)
            return f"{type(exc).__name__}: {exc}", False
        if 200 <= code < 300:
            return None, False
        return f"HTTP {code}", False
