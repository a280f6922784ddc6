"""The smpp connector inside the real dispatcher: a stored message through SMPP and back."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from datetime import timedelta
from typing import Any

import pytest

from soapsms import metrics
from soapsms.config import ConnectorConfig, Routes
from soapsms.dispatch import receipt_loop
from soapsms.dispatch.connectors.smpp.connector import SmppConnector
from soapsms.dispatch.worker import Dispatcher
from soapsms.store.migrate import upgrade
from soapsms.usecases import accounts
from soapsms.usecases.dispatching import queue as uc
from soapsms.usecases.runtime import Runtime
from tests.conftest import make_settings
from tests.dispatch_helpers import (
    history,
    message,
    running,
    send_to,
    status_of,
    wait_for,
)
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


def smpp_route(name: str, port: int, **extra: str) -> ConnectorConfig:
    # As a [connector:NAME] type = smpp section would give it (ids in hex).
    options = {
        **FAST,
        "host": "127.0.0.1",
        "port": str(port),
        "submit_id_format": "hex",
        **extra,
    }
    return ConnectorConfig(name, "smpp", tuple(options.items()))


@pytest.fixture
def smscs() -> Iterator[tuple[FaultSmsc, FaultSmsc]]:
    with ExitStack() as stack:
        primary = stack.enter_context(FaultSmsc(accept_with_receipt))
        contingency = stack.enter_context(FaultSmsc(accept_with_receipt))
        yield primary, contingency


@pytest.fixture
def route_options() -> dict[str, str]:
    """Options every route gets beyond FAST (a test parametrizes it)."""
    return {}


@pytest.fixture
def rt(
    sqlite_url: str,
    smscs: tuple[FaultSmsc, FaultSmsc],
    route_options: dict[str, str],
) -> Iterator[Runtime]:
    primary, contingency = smscs
    routes = Routes(
        connectors=(
            smpp_route("primary", primary.port, **route_options),
            smpp_route("contingency", contingency.port, **route_options),
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


@pytest.mark.parametrize("code", [0x58, 0x14])  # ESME_RTHROTTLED, ESME_RMSGQFUL
def test_throttling_is_flow_control_not_a_failed_attempt(
    rt: Runtime, smscs: tuple[FaultSmsc, FaultSmsc], code: int
) -> None:
    answers = iter([code, code, code])

    def throttle_three_times(conn: Conn, pdu: Any) -> None:
        status = next(answers, 0)
        if status:
            conn.reject(pdu, status)
        else:
            accept_with_receipt(conn, pdu)

    smscs[0].on_submit = throttle_three_times
    row = dispatch_one(rt, lambda row: row.status == "DELIVERED")
    # The same PDU again after each pause, on the same route; no attempt counted.
    submits = smscs[0].submits
    assert len(submits) == 4 and smscs[1].submits == []
    assert len({bytes(s.pdu.short_message) for s in submits}) == 1
    assert (row.attempts, row.carrier_error) == (1, None)


@pytest.mark.parametrize("route_options", [{"throttle_give_up_seconds": "0"}])
def test_throttling_past_the_routes_bound_is_a_retry(
    rt: Runtime, smscs: tuple[FaultSmsc, FaultSmsc]
) -> None:
    smscs[0].on_submit = reject_with(0x58)
    row = dispatch_one(rt, lambda row: row.carrier_error)
    assert (row.status, row.carrier_error) == ("QUEUED", "command_status=0x00000058")


def udh(submit: Any) -> tuple[int, int, int]:
    """(reference, total, part number) of a concatenated part."""
    header = bytes(submit.pdu.short_message)[:6]
    return header[3], header[4], header[5]


def test_multipart_retry_sends_only_the_parts_not_accepted(
    rt: Runtime, smscs: tuple[FaultSmsc, FaultSmsc], monkeypatch: Any
) -> None:
    # No 10 s back-off: the retry is what this test is about.
    monkeypatch.setattr(uc, "FIRST_RETRY", timedelta(milliseconds=200))
    dropped: list[int] = []

    def drop_the_third_part_once(conn: Conn, pdu: Any) -> None:
        if bytes(pdu.short_message)[5] == 3 and not dropped:
            dropped.append(pdu.sequence)
            conn.drop()  # parts 1 and 2 were accepted, part 3 never answered
        else:
            accept_with_receipt(conn, pdu)

    smscs[0].on_submit = drop_the_third_part_once
    with dispatching(rt):
        [sent] = send_to(rt, "acme", "+17036069996", text="x" * 400).messages
        row = wait_for(
            lambda: (r := message(rt, sent.message_id)).status == "DELIVERED" and r
        )
    seen = [udh(s) for s in smscs[0].submits]
    # Parts 1 and 2 once, part 3 twice (the drop, then the retry); one reference.
    assert sorted(n for _, _, n in seen) == [1, 2, 3, 3]
    assert {(ref, total) for ref, total, _ in seen} == {(seen[0][0], 3)}
    assert smscs[1].submits == []
    assert (row.attempts, row.parts_delivered) == (2, 3)
    notes = [h.detail or "" for h in history(rt, sent.message_id)]
    assert any(n.startswith("parts 1, 2 of 3 accepted via primary") for n in notes)


def test_receipt_is_answered_only_once_recorded(
    rt: Runtime, smscs: tuple[FaultSmsc, FaultSmsc], monkeypatch: Any
) -> None:
    recording = threading.Event()
    release = threading.Event()
    real = receipt_loop.record_receipts

    def slow_record(runtime: Runtime, items: Any, **matching: Any) -> None:
        recording.set()
        assert release.wait(10)
        real(runtime, items, **matching)

    monkeypatch.setattr(receipt_loop, "record_receipts", slow_record)
    with dispatching(rt):
        [sent] = send_to(rt, "acme", "+17036069996").messages
        assert recording.wait(10)
        time.sleep(0.2)
        assert smscs[0].deliver_resps == {}  # the SMSC still holds the receipt
        release.set()
        wait_for(lambda: smscs[0].deliver_resps)
        # Answered after the commit: the message is DELIVERED in the store by then.
        assert status_of(rt, sent.message_id) == "DELIVERED"
    assert list(smscs[0].deliver_resps.values()) == [0]


def test_receipt_that_cannot_be_recorded_is_left_to_the_carrier(
    rt: Runtime, smscs: tuple[FaultSmsc, FaultSmsc], monkeypatch: Any
) -> None:
    def broken(runtime: Runtime, items: Any) -> None:
        raise RuntimeError("a bug while recording")

    monkeypatch.setattr(receipt_loop, "record_receipts", broken)
    with dispatching(rt):
        send_to(rt, "acme", "+17036069996")
        wait_for(lambda: smscs[0].deliver_resps)
    # ESME_RX_T_APPN: the SMSC keeps the receipt and delivers it again.
    assert list(smscs[0].deliver_resps.values()) == [0x64]


def test_bind_state_is_a_metric(
    rt: Runtime, smscs: tuple[FaultSmsc, FaultSmsc]
) -> None:
    def up(name: str) -> float | None:
        return metrics.get().registry.get_sample_value(
            "soapsms_connector_up", {"connector": name}
        )

    built = Dispatcher(rt, callbacks=False, lease_seconds=2)  # a beat each 0.5 s
    with running(built):
        wait_for(lambda: up("primary") == 1 and up("contingency") == 1)
        smscs[1].__exit__(None, None, None)  # the contingency SMSC goes away
        wait_for(lambda: up("contingency") == 0)
        assert up("primary") == 1
