"""The dispatcher end to end: simulator delivery seen over SOAP, NO_ROUTE,
scheduling, validity expiry with refunds."""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
import zeep

from soapsms.config import ConnectorConfig, Routes
from soapsms.dispatch.connectors.simulator import SimulatorConnector, SimulatorOptions
from soapsms.dispatch.pipeline import IDLE
from soapsms.dispatch.worker import Dispatcher
from soapsms.errors import Unavailable
from soapsms.usecases import accounts
from soapsms.usecases.dispatching import queue as uc
from soapsms.usecases.runtime import Runtime
from tests.conftest import LiveServer
from tests.dispatch_helpers import (
    MovableClock,
    ScriptedConnector,
    acme_runtime,
    history,
    message,
    running,
    send_to,
    status_of,
    wait_for,
)
from tests.soap_helpers import AUTH

US_ONLY = Routes(
    connectors=(ConnectorConfig("primary", "simulator"),),
    table=(("+1", ("primary",)),),
)


@pytest.fixture
def clock() -> MovableClock:
    return MovableClock()


@pytest.fixture
def rt(db_url: str, clock: MovableClock) -> Iterator[Runtime]:
    with acme_runtime(db_url, clock, routes=US_ONLY) as runtime:
        yield runtime


def _fast_simulator(name: str = "primary", **changes: object) -> SimulatorConnector:
    options = {"submit_latency": 0.001, "receipt_delay": (0.05, 0.2), "seed": 7}
    options.update(changes)
    return SimulatorConnector(name, SimulatorOptions(**options))  # type: ignore[arg-type]


def test_simulator_delivers_and_getstatus_shows_it(rt: Runtime) -> None:
    simulator = _fast_simulator(rejected_rate=0.0, undelivered_rate=0.0)
    with LiveServer(rt) as live:
        client = zeep.Client(f"{live.url}/soap?wsdl")
        sent = client.service.SendMessage(
            Auth=AUTH,
            Message={
                "Text": "Server web01 is down " * 10,  # two parts
                "RecipientsText": "+17036069996, +447700900123",
            },
        )
        receipts = sent.Messages.MessageReceipt
        assert [m.Status for m in receipts] == ["QUEUED"]
        assert [(r.Recipient, r.Reason) for r in sent.Rejected.RejectedRecipient] == [
            ("+447700900123", "NO_ROUTE")
        ]
        message_id = receipts[0].MessageId
        seen: list[str] = []

        def delivered() -> bool:
            status = client.service.GetStatus(Auth=AUTH, MessageIds=[message_id])[0]
            if not seen or seen[-1] != status.Status:
                seen.append(status.Status)
            return status.Status == "DELIVERED"

        with running(Dispatcher(rt, {"primary": simulator}, callbacks=False)):
            wait_for(delivered)
        final = client.service.GetStatus(Auth=AUTH, MessageIds=[message_id])[0]
    assert seen[0] in ("QUEUED", "SUBMITTED")
    assert final.Parts == 2 and final.PartsDelivered == 2
    assert final.SubmittedAt is not None and final.DoneAt is not None
    assert [h.status for h in history(rt, message_id)][-1] == "DELIVERED"
    assert "SUBMITTED" in [h.status for h in history(rt, message_id)]


def test_scheduled_message_waits_for_its_time(rt: Runtime, clock: MovableClock) -> None:
    connector = ScriptedConnector("primary")
    later = clock() + timedelta(minutes=30)
    scheduled = send_to(rt, "acme", "+17036069996", scheduled_for=later)
    now = send_to(rt, "acme", "+17036069997")
    [sid], [nid] = (
        [m.message_id for m in scheduled.messages],
        [m.message_id for m in now.messages],
    )
    assert status_of(rt, sid) == "SCHEDULED"
    with running(Dispatcher(rt, {"primary": connector}, callbacks=False)):
        wait_for(lambda: status_of(rt, nid) == "SUBMITTED")
        assert status_of(rt, sid) == "SCHEDULED"
        clock.advance(minutes=31)
        wait_for(lambda: status_of(rt, sid) == "SUBMITTED")
    assert [h.status for h in history(rt, sid)] == ["QUEUED", "SUBMITTED"]
    # Validity runs from the scheduled time.
    assert message(rt, sid).expires_at == later.replace(
        microsecond=later.microsecond // 1000 * 1000
    ) + timedelta(minutes=2880)


def test_validity_passed_before_submission_expires_and_refunds(
    rt: Runtime, clock: MovableClock
) -> None:
    accounts.set_credits(rt, "acme", balance=10)
    connector = ScriptedConnector("primary")
    connector.up = False  # nothing can be submitted
    sent = send_to(rt, "acme", "+17036069996", validity_minutes=1, text="x" * 200)
    [message_id] = [m.message_id for m in sent.messages]
    assert accounts.get(rt, "acme").credits == 8  # two parts
    with running(Dispatcher(rt, {"primary": connector}, callbacks=False)):
        clock.advance(minutes=2)
        wait_for(lambda: status_of(rt, message_id) == "EXPIRED")
    row = message(rt, message_id)
    assert row.error_code == "VALIDITY_EXPIRED" and row.submitted_at is None
    assert accounts.get(rt, "acme").credits == 10
    assert connector.submitted == []


def test_stop_gives_up_a_store_that_stays_unavailable(
    rt: Runtime, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    def unavailable(runtime: Runtime, outcomes: Any) -> None:
        raise Unavailable("the store is gone")

    monkeypatch.setattr(uc, "record_submissions", unavailable)
    connector = ScriptedConnector("primary")
    [sent] = send_to(rt, "acme", "+17036069996").messages
    dispatcher = Dispatcher(
        rt, {"primary": connector}, callbacks=False, drain_seconds=0.5
    )
    with caplog.at_level(logging.WARNING), running(dispatcher):
        wait_for(lambda: connector.submitted)
    # The recorder's store retry ends with the drain instead of outliving stop().
    [recorder] = [t for t in dispatcher._threads if t.name == "dispatch-recorder"]
    recorder.join(timeout=3)
    assert not recorder.is_alive()
    assert "store unavailable: 1 outcomes not recorded" in caplog.text
    assert status_of(rt, sent.message_id) == "QUEUED"  # its lease runs out


def test_a_trickle_of_messages_is_claimed_on_the_clock_not_once_per_record(
    rt: Runtime, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A claim after every record of a carrier's answer was a claim transaction
    # for every message or two at a low rate; the claim loop wakes for a
    # record only while it waits for room under its in-flight cap.
    claims: list[float] = []
    real = uc.claim_batch

    def counted(*args: Any, **kwargs: Any) -> list[uc.Claimed]:
        claims.append(time.monotonic())
        return real(*args, **kwargs)

    monkeypatch.setattr(uc, "claim_batch", counted)
    dispatcher = Dispatcher(rt, {"primary": _fast_simulator()}, callbacks=False)
    sent = []
    with running(dispatcher):
        started = time.monotonic()
        for n in range(20):
            sent += send_to(rt, "acme", f"+1703606{n:04d}").messages
            time.sleep(0.03)
        wait_for(lambda: all(status_of(rt, m.message_id) != "QUEUED" for m in sent))
        elapsed = time.monotonic() - started
    during = [t for t in claims if started <= t <= started + elapsed]
    assert len(during) <= elapsed / IDLE + 3, (len(during), elapsed)
