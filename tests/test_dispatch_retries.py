"""Submission errors: back-off retries, expiry by validity, rejection, failover."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import pytest

from soapsms.config import ConnectorConfig, Routes
from soapsms.dispatch.connectors.base import SubmitResult
from soapsms.dispatch.worker import Dispatcher
from soapsms.usecases import accounts
from soapsms.usecases.runtime import Runtime
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

ROUTES = Routes(
    connectors=(
        ConnectorConfig("primary", "simulator"),
        ConnectorConfig("backup", "simulator"),
    ),
    table=(("", ("primary", "backup")), ("+44", ("primary",))),
)
THROTTLED = SubmitResult(
    accepted=False,
    retry=True,
    error_code="THROTTLED",
    carrier_error="command_status=0x00000058",
)
NO_ROUTE_THERE = SubmitResult(
    accepted=False,
    error_code="ROUTING_ERROR",
    carrier_error="command_status=0x0000000B",
)


@pytest.fixture
def clock() -> MovableClock:
    return MovableClock()


@pytest.fixture
def rt(db_url: str, clock: MovableClock) -> Iterator[Runtime]:
    with acme_runtime(db_url, clock, routes=ROUTES) as runtime:
        yield runtime


@pytest.fixture
def carriers() -> dict[str, ScriptedConnector]:
    return {name: ScriptedConnector(name) for name in ("primary", "backup")}


def _dispatcher(rt: Runtime, carriers: dict[str, ScriptedConnector]) -> Dispatcher:
    return Dispatcher(rt, dict(carriers), callbacks=False)  # type: ignore[arg-type]


def test_temporary_errors_back_off_then_succeed(
    rt: Runtime, clock: MovableClock, carriers: dict[str, ScriptedConnector]
) -> None:
    primary = carriers["primary"]
    primary.answers["+17036069996"] = [
        THROTTLED,
        THROTTLED,
        SubmitResult(accepted=True, carrier_ids=("c-1",)),
    ]
    [m] = send_to(rt, "acme", "+17036069996").messages
    with running(_dispatcher(rt, carriers)):
        wait_for(lambda: len(primary.submitted) == 1)
        wait_for(lambda: message(rt, m.message_id).lease_owner is None)
        first = message(rt, m.message_id)
        assert first.status == "QUEUED" and first.attempts == 1
        assert first.carrier_error == "command_status=0x00000058"
        assert (first.due_at - clock()).total_seconds() == pytest.approx(10, abs=1.5)
        clock.advance(seconds=11)
        wait_for(lambda: len(primary.submitted) == 2)
        wait_for(lambda: message(rt, m.message_id).lease_owner is None)
        second = message(rt, m.message_id)
        assert (second.due_at - clock()).total_seconds() == pytest.approx(20, abs=1.5)
        clock.advance(seconds=21)
        wait_for(lambda: status_of(rt, m.message_id) == "SUBMITTED")
    row = message(rt, m.message_id)
    assert row.attempts == 3 and row.carrier_error is None
    # Failed attempts are in the history, but only real changes are statuses.
    statuses = [h.status for h in history(rt, m.message_id)]
    assert statuses == ["QUEUED", "QUEUED", "SUBMITTED"]
    assert carriers["backup"].submitted == []  # throttling is not a failover


def test_retries_end_with_validity(
    rt: Runtime, clock: MovableClock, carriers: dict[str, ScriptedConnector]
) -> None:
    accounts.set_credits(rt, "acme", balance=5)
    carriers["primary"].answers["+17036069996"] = [THROTTLED]
    [m] = send_to(rt, "acme", "+17036069996", validity_minutes=1).messages
    with running(_dispatcher(rt, carriers)):
        wait_for(lambda: len(carriers["primary"].submitted) == 1)
        wait_for(lambda: message(rt, m.message_id).lease_owner is None)
        for _ in range(3):  # 10 s, 20 s, 40 s: the next one passes the minute
            before = len(carriers["primary"].submitted)
            clock.advance(seconds=41)
            wait_for(
                lambda b=before: (
                    len(carriers["primary"].submitted) > b
                    or status_of(rt, m.message_id) == "EXPIRED"
                )
            )
            wait_for(lambda: message(rt, m.message_id).lease_owner is None)
        wait_for(lambda: status_of(rt, m.message_id) == "EXPIRED")
    row = message(rt, m.message_id)
    assert row.error_code == "VALIDITY_EXPIRED"
    assert row.carrier_error == "command_status=0x00000058"
    assert accounts.get(rt, "acme").credits == 5  # never submitted: refunded


def test_permanent_refusal_is_rejected_with_codes_and_refunded(
    rt: Runtime, carriers: dict[str, ScriptedConnector]
) -> None:
    accounts.set_credits(rt, "acme", balance=3)
    carriers["primary"].answers["+17036069996"] = [
        SubmitResult(
            accepted=False,
            error_code="CONTENT_FILTERED",
            carrier_error="command_status=0x00000045",
            error_text="spam filter",
        )
    ]
    [m] = send_to(rt, "acme", "+17036069996").messages
    assert accounts.get(rt, "acme").credits == 2
    with running(_dispatcher(rt, carriers)):
        wait_for(lambda: status_of(rt, m.message_id) == "REJECTED")
    row = message(rt, m.message_id)
    assert (row.error_code, row.carrier_error) == (
        "CONTENT_FILTERED",
        "command_status=0x00000045",
    )
    assert row.done_at is not None
    assert accounts.get(rt, "acme").credits == 3
    assert carriers["backup"].submitted == []


def test_failover_when_down_and_back_when_up(
    rt: Runtime, clock: MovableClock, carriers: dict[str, ScriptedConnector]
) -> None:
    primary, backup = carriers["primary"], carriers["backup"]
    primary.up = False
    with running(_dispatcher(rt, carriers)):
        [m1] = send_to(rt, "acme", "+17036069996").messages
        wait_for(lambda: status_of(rt, m1.message_id) == "SUBMITTED")
        assert backup.recipients() == ["+17036069996"] and primary.submitted == []
        primary.up = True
        [m2] = send_to(rt, "acme", "+17036069997").messages
        wait_for(lambda: status_of(rt, m2.message_id) == "SUBMITTED")
        assert primary.recipients() == ["+17036069997"]


def test_all_connectors_down_waits_without_spending_attempts(
    rt: Runtime, clock: MovableClock, carriers: dict[str, ScriptedConnector]
) -> None:
    for carrier in carriers.values():
        carrier.up = False
    [m] = send_to(rt, "acme", "+17036069996").messages
    with running(_dispatcher(rt, carriers)):
        clock.advance(seconds=30)
        assert status_of(rt, m.message_id) == "QUEUED"
        carriers["backup"].up = True
        wait_for(lambda: status_of(rt, m.message_id) == "SUBMITTED")
    assert message(rt, m.message_id).attempts == 1


def test_routing_error_tries_the_contingency_route_then_fails(
    rt: Runtime, carriers: dict[str, ScriptedConnector]
) -> None:
    primary, backup = carriers["primary"], carriers["backup"]
    primary.answers["+17036069996"] = [NO_ROUTE_THERE]
    primary.answers["+17036069997"] = [NO_ROUTE_THERE]
    backup.answers["+17036069997"] = [NO_ROUTE_THERE]
    [ok, failed] = send_to(rt, "acme", "+17036069996", "+17036069997").messages
    with running(_dispatcher(rt, carriers)):
        wait_for(lambda: status_of(rt, ok.message_id) == "SUBMITTED")
        wait_for(lambda: status_of(rt, failed.message_id) == "FAILED")
    row = message(rt, failed.message_id)
    assert (row.error_code, row.carrier_error) == (
        "ROUTING_ERROR",
        "command_status=0x0000000B",
    )
    assert sorted(backup.recipients()) == ["+17036069996", "+17036069997"]


def test_retry_delay_doubles_to_ten_minutes() -> None:
    from soapsms.usecases.dispatching.queue import retry_delay

    assert [retry_delay(n).total_seconds() for n in range(1, 9)] == [
        10,
        20,
        40,
        80,
        160,
        320,
        600,
        600,
    ]
    assert retry_delay(10_000) == timedelta(minutes=10)
