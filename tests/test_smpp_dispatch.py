"""The smpp connector inside the real dispatcher: a stored message through SMPP and back."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from typing import Any

import pytest

from soapsms.config import ConnectorConfig, Routes
from soapsms.dispatch.connectors.smpp import SmppConnector
from soapsms.dispatch.worker import Dispatcher
from soapsms.store.migrate import upgrade
from soapsms.usecases import accounts
from soapsms.usecases.runtime import Runtime
from tests.conftest import make_settings
from tests.dispatch_helpers import message, running, send_to, status_of, wait_for
from tests.smsc.esme import FAST
from tests.smsc.fault import Conn, FaultSmsc


def accept_with_receipt(conn: Conn, pdu: Any) -> None:
    conn.accept(pdu, message_id := conn.smsc.next_id())
    conn.receipt(message_id)


def receipt_first(conn: Conn, pdu: Any) -> None:
    message_id = conn.smsc.next_id()
    conn.receipt(message_id)
    conn.accept(pdu, message_id)


def reject_with(status: int) -> Any:
    return lambda conn, pdu: conn.reject(pdu, status)


def smpp_route(name: str, port: int) -> ConnectorConfig:
    # As a [connector:NAME] type = smpp section would give it (ids in hex).
    options = {
        **FAST,
        "host": "127.0.0.1",
        "port": str(port),
        "submit_id_format": "hex",
    }
    return ConnectorConfig(name, "smpp", tuple(options.items()))


@pytest.fixture
def smscs() -> Iterator[tuple[FaultSmsc, FaultSmsc]]:
    with ExitStack() as stack:
        primary = stack.enter_context(FaultSmsc(accept_with_receipt))
        contingency = stack.enter_context(FaultSmsc(accept_with_receipt))
        yield primary, contingency


@pytest.fixture
def rt(sqlite_url: str, smscs: tuple[FaultSmsc, FaultSmsc]) -> Iterator[Runtime]:
    primary, contingency = smscs
    routes = Routes(
        connectors=(
            smpp_route("primary", primary.port),
            smpp_route("contingency", contingency.port),
        ),
        table=(("+1", ("primary", "contingency")),),
    )
    runtime = Runtime(make_settings(sqlite_url, routes=routes))
    upgrade(runtime.engine)
    accounts.create_account(runtime, "acme", "s3cret", "ACME Corp")
    yield runtime
    runtime.close()


@contextmanager
def dispatching(rt: Runtime) -> Iterator[Dispatcher]:
    """A running dispatcher whose smpp routes are bound (so none is skipped)."""
    built = Dispatcher(rt, callbacks=False)  # connectors built from the routes
    assert all(isinstance(c, SmppConnector) for c in built.connectors.values())
    with running(built):
        wait_for(lambda: all(c.is_up() for c in built.connectors.values()))
        yield built


def dispatch_one(rt: Runtime, until: Callable[[Any], Any]) -> Any:
    """Send one message while dispatching; its row once `until(row)` holds."""
    with dispatching(rt):
        [sent] = send_to(rt, "acme", "+17036069996").messages
        return wait_for(lambda: until(row := message(rt, sent.message_id)) and row)


@pytest.mark.parametrize("policy", [accept_with_receipt, receipt_first])
def test_multipart_message_is_delivered_through_smpp(
    rt: Runtime, smscs: tuple[FaultSmsc, FaultSmsc], policy: Any
) -> None:
    smscs[0].on_submit = policy
    with dispatching(rt):
        text = "Disk full on db01. " * 12
        [sent] = send_to(rt, "acme", "+17036069996", text=text).messages
        assert sent.parts == 2
        wait_for(lambda: status_of(rt, sent.message_id) == "DELIVERED")
    row = message(rt, sent.message_id)
    assert row.parts_delivered == 2
    assert len(smscs[0].submits) == 2 and smscs[1].submits == []


def test_permanent_rejection_is_rejected_with_the_raw_status(
    rt: Runtime, smscs: tuple[FaultSmsc, FaultSmsc]
) -> None:
    smscs[0].on_submit = reject_with(0x45)
    row = dispatch_one(rt, lambda row: row.status == "REJECTED")
    assert (row.error_code, row.carrier_error) == (
        "CARRIER_REJECTED",
        "command_status=0x00000045",
    )


def test_routing_error_goes_to_the_contingency_route(
    rt: Runtime, smscs: tuple[FaultSmsc, FaultSmsc]
) -> None:
    smscs[0].on_submit = reject_with(0x50)  # ESME_RINVDSTTON
    dispatch_one(rt, lambda row: row.status == "DELIVERED")
    assert len(smscs[0].submits) == 1 and len(smscs[1].submits) == 1


def test_throttled_submission_stays_queued_for_a_retry(
    rt: Runtime, smscs: tuple[FaultSmsc, FaultSmsc]
) -> None:
    smscs[0].on_submit = reject_with(0x58)
    row = dispatch_one(rt, lambda row: row.carrier_error)
    assert (row.status, row.carrier_error) == ("QUEUED", "command_status=0x00000058")
