"""The connector side of the SMPP tests: a recording Sink and a started connector."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta

from soapsms.dispatch.connectors.base import Inbound, Receipt, Submission
from soapsms.dispatch.connectors.smpp.connector import SmppConnector, create
from soapsms.domain.encoding import plan
from tests.smsc.fault import wait_until

# base.Ack, written out: the dispatcher bench runs this with older revisions.
Ack = Callable[[bool], None]


class RecordingSink:
    """Keeps what the connector reports, acknowledging it at once; `fail` makes
    the next calls raise."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.receipts: list[Receipt] = []
        self.inbounds: list[Inbound] = []
        self.fail = 0

    def _check(self) -> None:
        with self.lock:
            if self.fail:
                self.fail -= 1
                raise RuntimeError("sink is full")

    def receipt(self, receipt: Receipt, ack: Ack | None = None) -> None:
        self._check()
        with self.lock:
            self.receipts.append(receipt)
        if ack is not None:
            ack(True)

    def inbound(self, message: Inbound, ack: Ack | None = None) -> None:
        self._check()
        with self.lock:
            self.inbounds.append(message)
        if ack is not None:
            ack(True)


# Fast timers, so that faults show within a test's second or two.
FAST = {
    "system_id": "soapsms",
    "password": "secret",
    "reconnect_min_seconds": "0.05",
    "reconnect_max_seconds": "0.2",
    "response_timeout_seconds": "2",
    "connect_timeout_seconds": "2",
}


@contextmanager
def connector(
    port: int, sink: RecordingSink | None = None, wait_up: bool = True, **options: str
) -> Iterator[SmppConnector]:
    """A started connector on 127.0.0.1:`port`, stopped at the end."""
    built = create(
        "carrier-a", {"host": "127.0.0.1", "port": str(port), **FAST, **options}
    )
    assert isinstance(built, SmppConnector)
    built.start(sink or RecordingSink())
    try:
        if wait_up:
            wait_until(built.is_up, what="bind")
        yield built
    finally:
        built.stop()


def submission(
    text: str = "Server web01 is down",
    recipient: str = "+17036069996",
    sender: str | None = "SOAPSMS",
    encoding: str = "Auto",
    message_id: str = "01J00000000000000000000000",
    want_receipt: bool = True,
) -> Submission:
    """A Submission split by our own encoder, as the dispatcher builds it."""
    planned = plan(text, encoding)
    return Submission(
        message_id=message_id,
        recipient=recipient,
        sender=sender,
        encoding=planned.encoding,
        segments=planned.segments,
        expires_at=datetime.now(UTC).replace(tzinfo=None) + timedelta(days=2),
        want_receipt=want_receipt,
    )
