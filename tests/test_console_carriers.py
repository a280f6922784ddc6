"""Connector states published by the dispatcher, pauses it honours (connector
and account), and the same state in /health and /metrics; both stores."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import pytest
import requests

from soapsms.config import ConnectorConfig, Routes
from soapsms.dispatch.connectors.base import SubmitResult
from soapsms.dispatch.worker import Dispatcher
from soapsms.errors import AccountNotFound, ValidationError
from soapsms.usecases import carriers, operations, operators
from soapsms.usecases.operators import Actor
from soapsms.usecases.runtime import Runtime
from tests.conftest import LiveServer
from tests.dispatch_helpers import (
    MovableClock,
    ScriptedConnector,
    acme_runtime,
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
    table=(("+1", ("primary",)), ("+44", ("primary", "backup"))),
)
OPERATOR = Actor("operator", "alice", "192.0.2.1")


@pytest.fixture
def clock() -> MovableClock:
    return MovableClock()


@pytest.fixture
def rt(db_url: str, clock: MovableClock) -> Iterator[Runtime]:
    with acme_runtime(db_url, clock, routes=ROUTES) as runtime:
        yield runtime


def _dispatcher(rt: Runtime, *connectors: ScriptedConnector) -> Dispatcher:
    dispatcher = Dispatcher(rt, {c.name: c for c in connectors}, callbacks=False)
    dispatcher.pool.states.every = 0.05  # publish (and see pauses) at once
    return dispatcher


def test_published_states_are_shown_until_they_go_stale(
    rt: Runtime, clock: MovableClock
) -> None:
    now = clock()
    paused = carriers.publish(
        rt,
        "host:1:aa",
        [
            carriers.Published("primary", True, now, 3, 10, 120, 118),
            carriers.Published("backup", False, now, 0, None, 0, 0, "THROTTLED x", now),
        ],
    )
    assert paused == frozenset()
    assert carriers.pause(rt, OPERATOR, "backup") is True
    assert carriers.pause(rt, OPERATOR, "backup") is False
    with pytest.raises(ValidationError, match="no connector 'nope'"):
        carriers.pause(rt, OPERATOR, "nope")
    views = {v.connector: v for v in carriers.carriers(rt)}
    assert views["primary"].state == "bound"
    assert views["primary"].totals() == {
        "in_flight": 3,
        "submits_per_minute": 120,
        "receipts_per_minute": 118,
    }
    assert views["backup"].state == "paused"
    assert views["backup"].paused_by == "alice"
    assert views["backup"].last_error == "THROTTLED x"
    health = {c["name"]: c for c in carriers.connector_health(rt)}
    assert health["primary"]["state"] == "bound"
    assert health["backup"]["paused_by"] == "alice"
    # The publisher reads the pause back.
    assert carriers.publish(rt, "host:1:aa", []) == frozenset({"backup"})
    clock.advance(seconds=carriers.STALE_AFTER.total_seconds() + 1)
    views = {v.connector: v for v in carriers.carriers(rt)}
    assert views["primary"].state == "unknown" and views["primary"].dispatchers == ()
    assert carriers.resume(rt, OPERATOR, "backup") is True
    assert [e.action for e in operators.audit_page(rt)] == [
        "connector.resume",
        "connector.pause",
    ]


def test_a_paused_connector_submits_nothing_and_still_takes_receipts(
    rt: Runtime,
) -> None:
    primary, backup = ScriptedConnector("primary"), ScriptedConnector("backup")
    before = send_to(rt, "acme", "+17036069996").messages[0].message_id
    dispatcher = _dispatcher(rt, primary, backup)
    with running(dispatcher):
        wait_for(lambda: status_of(rt, before) == "SUBMITTED")
        carriers.pause(rt, OPERATOR, "primary")
        wait_for(lambda: dispatcher.pool.states.paused("primary"))
        waiting = send_to(rt, "acme", "+17036069997").messages[0].message_id
        # Sent after it, due after it: once this one went (through the
        # backup), the dispatcher has had its chance at the first.
        probe = send_to(rt, "acme", "+447700900123").messages[0].message_id
        wait_for(lambda: status_of(rt, probe) == "SUBMITTED")
        assert status_of(rt, waiting) == "QUEUED"
        assert primary.recipients() == ["+17036069996"]
        # A receipt for what was submitted before the pause is still recorded.
        primary.receipt("primary-1", "DELIVRD")
        wait_for(lambda: status_of(rt, before) == "DELIVERED")
        states = {v.connector: v for v in carriers.carriers(rt)}
        assert states["primary"].state == "paused"
        carriers.resume(rt, OPERATOR, "primary")
        wait_for(lambda: status_of(rt, waiting) == "SUBMITTED")
    assert primary.recipients() == ["+17036069996", "+17036069997"]
    assert backup.recipients() == ["+447700900123"]


def test_a_paused_connector_fails_over_to_the_route_s_next(rt: Runtime) -> None:
    primary, backup = ScriptedConnector("primary"), ScriptedConnector("backup")
    carriers.pause(rt, OPERATOR, "primary")
    dispatcher = _dispatcher(rt, primary, backup)
    with running(dispatcher):
        uk = send_to(rt, "acme", "+447700900123").messages[0].message_id
        us = send_to(rt, "acme", "+17036069996").messages[0].message_id
        wait_for(lambda: status_of(rt, uk) == "SUBMITTED")
        assert backup.recipients() == ["+447700900123"]
        assert status_of(rt, us) == "QUEUED"  # +1 has no other connector
        assert primary.submitted == []


def test_errors_and_bind_state_are_published(rt: Runtime) -> None:
    primary = ScriptedConnector("primary")
    primary.answers["+17036069996"] = [
        SubmitResult(
            accepted=False,
            retry=True,
            error_code="THROTTLED",
            carrier_error="command_status=0x58",
        )
    ]
    dispatcher = _dispatcher(rt, primary)
    with running(dispatcher):
        send_to(rt, "acme", "+17036069996")

        def errored() -> bool:
            view = carriers.carriers(rt)[0]
            return view.last_error == "THROTTLED command_status=0x58"

        wait_for(errored)
        assert carriers.carriers(rt)[0].state == "bound"
        primary.up = False
        wait_for(lambda: carriers.carriers(rt)[0].state == "unbound")
    # A stopped dispatcher withdraws its rows.
    assert carriers.carriers(rt)[0].state == "unknown"


def test_a_paused_account_s_messages_wait_others_go(rt: Runtime) -> None:
    from soapsms.usecases import accounts

    accounts.create_account(rt, "other", "s3cret")
    primary = ScriptedConnector("primary")
    assert operations.pause_account(rt, OPERATOR, "acme") is True
    assert operations.pause_account(rt, OPERATOR, "acme") is False
    with pytest.raises(AccountNotFound):
        operations.pause_account(rt, OPERATOR, "nobody")
    held = send_to(rt, "acme", "+17036069996").messages[0].message_id
    going = send_to(rt, "other", "+17036069997").messages[0].message_id
    view = operations.queue_view(rt)
    assert view.held == {"acme": 1} and view.due == 2
    with running(_dispatcher(rt, primary)):
        wait_for(lambda: status_of(rt, going) == "SUBMITTED")
        assert status_of(rt, held) == "QUEUED"
        assert operations.resume_account(rt, OPERATOR, "acme") is True
        wait_for(lambda: status_of(rt, held) == "SUBMITTED")
    assert [p.name for p in operations.paused_accounts(rt)] == []


def test_health_and_metrics_show_connector_state_and_pause(
    rt: Runtime, clock: MovableClock
) -> None:
    carriers.publish(
        rt, "host:1:aa", [carriers.Published("primary", True, clock(), 0, 10, 5, 4)]
    )
    carriers.pause(rt, OPERATOR, "backup")
    with LiveServer(rt) as live:
        health = requests.get(live.url + "/health", timeout=10).json()
        text = requests.get(live.url + "/metrics", timeout=10).text
    by_name = {c["name"]: c for c in health["connectors"]}
    assert by_name["primary"]["state"] == "bound"
    assert by_name["primary"]["submits_per_minute"] == 5
    assert by_name["backup"]["state"] == "paused"
    assert 'soapsms_connector_paused{connector="backup"} 1.0' in text
    assert 'soapsms_connector_paused{connector="primary"} 0.0' in text


def test_backing_off_messages_are_listed_and_requeued(
    rt: Runtime, clock: MovableClock
) -> None:
    primary = ScriptedConnector("primary")
    primary.answers["+17036069996"] = [
        SubmitResult(accepted=False, retry=True, error_code="THROTTLED")
    ]
    sent = send_to(rt, "acme", "+17036069996").messages[0].message_id
    with running(_dispatcher(rt, primary)):
        wait_for(lambda: operations.queue_view(rt).backing_off)
    view = operations.queue_view(rt)
    assert [m.message_id for m in view.backing_off] == [sent]
    assert view.due == 0
    done = operations.requeue_selected(rt, OPERATOR, [("acme", sent)])
    assert done == [(sent, "due now")]
    view = operations.queue_view(rt)
    assert view.due == 1 and view.routes[0].prefix == "+1"
    assert view.routes[0].connectors == ("primary",)
    assert operators.audit_page(rt)[0].action == "messages.requeue"
    clock.advance(seconds=1)
    assert view.oldest_due is not None and view.oldest_due <= clock() - timedelta(0)
