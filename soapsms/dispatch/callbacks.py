"""Status callbacks: drain the durable outbox in a thread of its own, POST, sign.

Each event is POSTed as `text/xml; charset=utf-8`:

    <StatusCallback xmlns="urn:soapsms:v1">
      <EventId/> <OccurredAt/> <MessageStatus>…as in GetStatus…</MessageStatus>
    </StatusCallback>

with `X-Soapsms-Signature: t=<unix time>,v1=<hex HMAC-SHA256 of "<t>.<body>">`
keyed with the account's callback secret (no header when the account has
none). Any 2xx is success; anything else is retried with back-off for 24
hours (soapsms.usecases.dispatching_callbacks). Targets on loopback, private
or link-local addresses are refused unless `allow_private_callbacks`.
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
from datetime import datetime, timedelta
from typing import Protocol
from urllib.parse import urlsplit
from xml.sax.saxutils import escape

from soapsms.domain import callback_target
from soapsms.domain.timestamps import format_utc
from soapsms.errors import Unavailable
from soapsms.usecases.dispatching_callbacks import (
    PendingCallback,
    callback_failed,
    callbacks_delivered,
    claim_callbacks,
)
from soapsms.usecases.results import MessageStatus
from soapsms.usecases.runtime import Runtime

logger = logging.getLogger(__name__)

NS = "urn:soapsms:v1"
SIGNATURE_HEADER = "X-Soapsms-Signature"
_TIMEOUT = 10.0
_LEASE = timedelta(seconds=60)
_BATCH = 50
_IDLE = 0.5


class Refused(Exception):
    """The target may not be called (a private address, a bad URL)."""


class Transport(Protocol):
    """POSTs a body and returns the HTTP status; raises OSError when unreachable."""

    def __call__(
        self, url: str, body: bytes, headers: dict[str, str], timeout: float
    ) -> int: ...


def check_target(url: str, allow_private: bool) -> None:
    """Refuse non-http(s) URLs and, unless allowed, hosts that resolve to
    loopback, private or link-local addresses (also through DNS)."""
    parts = callback_target.split_http_url(url)
    if parts is None or parts.hostname is None:
        raise Refused(f"not an http(s) URL: {url!r}")
    if allow_private:
        return
    try:
        infos = socket.getaddrinfo(
            parts.hostname, parts.port or 443, type=socket.SOCK_STREAM
        )
    except OSError as exc:
        raise OSError(f"cannot resolve {parts.hostname}: {exc}") from exc
    for info in infos:
        address = ipaddress.ip_address(info[4][0])
        if not callback_target.is_public(address):
            raise Refused(
                f"{parts.hostname} resolves to a non-public address {address}"
            )


def http_post(url: str, body: bytes, headers: dict[str, str], timeout: float) -> int:
    """The default transport: one HTTP/1.1 request, no redirects followed."""
    parts = urlsplit(url)
    connection_class = (
        http.client.HTTPSConnection
        if parts.scheme == "https"
        else http.client.HTTPConnection
    )
    connection = connection_class(parts.hostname or "", parts.port, timeout=timeout)
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


def _text(value: object) -> str:
    return format_utc(value) if isinstance(value, datetime) else escape(str(value))


def _status_xml(m: MessageStatus) -> str:
    # The contract's MessageStatus children, in its order.
    fields: list[tuple[str, object]] = [
        ("MessageId", m.message_id),
        ("Status", m.status),
        ("BatchId", m.batch_id),
        ("ClientReference", m.client_reference),
        ("Recipient", m.recipient),
        ("Sender", m.sender),
        ("ErrorCode", m.error_code),
        ("ErrorText", m.error_text),
        ("CarrierError", m.carrier_error),
        ("Parts", m.parts),
        ("PartsDelivered", m.parts_delivered),
        ("CreatedAt", m.created_at),
        ("ScheduledFor", m.scheduled_for),
        ("SubmittedAt", m.submitted_at),
        ("DoneAt", m.done_at),
        ("UpdatedAt", m.updated_at),
    ]
    inner = "".join(
        f"<{name}>{_text(value)}</{name}>"
        for name, value in fields
        if value is not None
    )
    return f"<MessageStatus>{inner}</MessageStatus>"


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
        delivered: list[str] = []
        for done in pool.map(self._send_in_order, by_message.values()):
            delivered.extend(done)
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
            check_target(event.url, self.rt.settings.allow_private_callbacks)
            code = self.transport(event.url, body, headers, _TIMEOUT)
        except Refused as exc:
            return str(exc), True
        except (OSError, http.client.HTTPException) as exc:
            return f"{type(exc).__name__}: {exc}", False
        if 200 <= code < 300:
            return None, False
        return f"HTTP {code}", False
