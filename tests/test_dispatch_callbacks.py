"""Status callbacks: a local receiver gets signed StatusCallback documents,
a 500 is retried from the outbox, private targets are refused by default."""

from __future__ import annotations

import hashlib
import hmac
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from lxml import etree
from sqlalchemy import func, select

from soapsms.dispatch.callbacks import check_target
from soapsms.dispatch.worker import Dispatcher
from soapsms.errors import CallbackRefused
from soapsms.store.db import transaction
from soapsms.store.models import CallbackEvent
from soapsms.usecases import accounts
from soapsms.usecases.runtime import Runtime
from tests.dispatch_helpers import (
    MovableClock,
    ScriptedConnector,
    acme_runtime,
    running,
    send_to,
    wait_for,
)

NS = "{urn:soapsms:v1}"
SECRET = "callback-secret"


class Receiver:
    """An HTTP server on port 0 that records POSTs; answers from a script."""

    def __init__(self) -> None:
        self.posts: list[tuple[dict[str, str], bytes]] = []
        self.codes: list[int] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                receiver.posts.append((dict(self.headers), body))
                code = receiver.codes.pop(0) if receiver.codes else 200
                self.send_response(code)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/hook?x=1"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver()
    yield r
    r.close()


@pytest.fixture
def clock() -> MovableClock:
    return MovableClock()


@pytest.fixture
def rt(db_url: str, clock: MovableClock) -> Iterator[Runtime]:
    with acme_runtime(db_url, clock, allow_private_callbacks=True) as runtime:
        accounts.set_fields(runtime, "acme", callback_secret=SECRET)
        yield runtime


def _verify(headers: dict[str, str], body: bytes) -> None:
    fields = dict(p.split("=", 1) for p in headers["X-Soapsms-Signature"].split(","))
    expected = hmac.new(
        SECRET.encode(), f"{fields['t']}.".encode() + body, hashlib.sha256
    ).hexdigest()
    assert hmac.compare_digest(fields["v1"], expected)


def _failures_recorded(rt: Runtime) -> int:
    with transaction(rt.engine) as conn:
        return int(
            conn.scalar(
                select(func.count())
                .select_from(CallbackEvent)
                .where(CallbackEvent.last_error.is_not(None))
            )
            or 0
        )


def test_callbacks_are_signed_and_retried_after_a_500(
    rt: Runtime, clock: MovableClock, receiver: Receiver
) -> None:
    carrier = ScriptedConnector("simulator")
    receiver.codes = [500]  # the first POST fails
    [m] = send_to(rt, "acme", "+17036069996", status_callback_url=receiver.url).messages
    with running(Dispatcher(rt, {"simulator": carrier})):  # type: ignore[dict-item]
        wait_for(lambda: len(receiver.posts) == 1)  # SUBMITTED, answered 500
        wait_for(lambda: carrier.submitted)
        carrier.receipt("simulator-1", "DELIVRD")
        # The 500 is recorded (its retry due 10 s after now) once the POST
        # returns: only then does moving the clock put the retry past due.
        wait_for(lambda: _failures_recorded(rt) == 1)
        clock.advance(seconds=11)  # past the first back-off
        wait_for(lambda: len(receiver.posts) == 3)
    documents = []
    for headers, body in receiver.posts:
        assert headers["Content-Type"] == "text/xml; charset=utf-8"
        _verify(headers, body)
        documents.append(etree.fromstring(body))
    assert all(d.tag == f"{NS}StatusCallback" for d in documents)
    events = [d.findtext(f"{NS}EventId") for d in documents]
    assert events[0] == events[1] != events[2]  # the retry is the same event
    statuses = [d.findtext(f"{NS}MessageStatus/{NS}Status") for d in documents]
    assert statuses == ["SUBMITTED", "SUBMITTED", "DELIVERED"]
    status = documents[2].find(f"{NS}MessageStatus")
    assert [child.tag.replace(NS, "") for child in status] == [
        "MessageId",
        "Status",
        "BatchId",
        "Recipient",
        "Parts",
        "PartsDelivered",
        "CreatedAt",
        "SubmittedAt",
        "DoneAt",
        "UpdatedAt",
    ]
    assert status.findtext(f"{NS}MessageId") == m.message_id
    assert documents[2].findtext(f"{NS}OccurredAt").endswith("Z")


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:9/x",
        "http://10.1.2.3/x",
        "http://192.168.0.1/x",
        "http://169.254.169.254/latest",
        "http://[::1]/x",
        "ftp://example.com/x",
    ],
)
def test_private_and_odd_targets_are_refused(url: str) -> None:
    with pytest.raises(CallbackRefused):
        check_target(url, allow_private=False)


def test_private_targets_pass_when_allowed() -> None:
    check_target("http://127.0.0.1:9/x", allow_private=True)
