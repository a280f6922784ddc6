"""Helpers for the dispatcher tests: a scripted connector, a movable clock,
a dispatcher running in a thread, and polling with deadlines."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from concurrent.futures import Future
from contextlib import contextmanager
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select

from soapsms.dispatch.connectors.base import (
    Inbound,
    Receipt,
    Sink,
    Submission,
    SubmitResult,
)
from soapsms.dispatch.worker import Dispatcher
from soapsms.errors import ConnectorDown
from soapsms.store import repository
from soapsms.store.db import transaction
from soapsms.store.models import Message, StatusHistory
from soapsms.usecases import send
from soapsms.usecases.auth import account_view
from soapsms.usecases.requests import SendRequest
from soapsms.usecases.results import SendResult
from soapsms.usecases.runtime import Runtime, utc_now
from tests.smsc.fault import wait_until


class MovableClock:
    """Real time plus an offset the test moves forward (back-offs, validity)."""

    def __init__(self) -> None:
        self.offset = timedelta()

    def __call__(self) -> datetime:
        return utc_now() + self.offset

    def advance(self, **delta: float) -> None:
        self.offset += timedelta(**delta)


class ScriptedConnector:
    """A base.Connector whose answers the test decides.

    `answers` maps a recipient to a list of SubmitResults used in turn (the
    last one repeats); without one every submission is accepted with a fresh
    carrier id per part.
    """

    def __init__(self, name: str) -> None:
        self.name = name
        self.up = True
        self.answers: dict[str, list[SubmitResult]] = {}
        self.submitted: list[Submission] = []
        self.sink: Sink | None = None
        self._ids = iter(range(1, 10**9))
        self._lock = threading.Lock()

    def start(self, sink: Sink) -> None:
        self.sink = sink

    def is_up(self) -> bool:
        return self.up

    def stop(self) -> None:
        pass

    def submit(self, submission: Submission) -> Future[SubmitResult]:
        if not self.up:
            raise ConnectorDown(f"{self.name} is down")
        with self._lock:
            self.submitted.append(submission)
            script = self.answers.get(submission.recipient)
            if script:
                result = script.pop(0) if len(script) > 1 else script[0]
            else:
                result = SubmitResult(
                    accepted=True,
                    carrier_ids=tuple(
                        f"{self.name}-{next(self._ids)}" for _ in submission.segments
                    ),
                )
        future: Future[SubmitResult] = Future()
        future.set_result(result)
        return future

    def receipt(self, carrier_id: str, stat: str, err: str | None = None) -> None:
        assert self.sink is not None
        self.sink.receipt(Receipt(self.name, carrier_id, stat, err=err))

    def inbound(self, sender: str, text: str) -> None:
        assert self.sink is not None
        self.sink.inbound(Inbound(self.name, sender, "+15550000", text, utc_now()))

    def recipients(self) -> list[str]:
        with self._lock:
            return [s.recipient for s in self.submitted]


def wait_for(predicate: Callable[[], Any], timeout: float = 60.0) -> Any:
    """Poll until `predicate()` is truthy; fail at the deadline (generous: it
    only costs time when the test fails, and a loaded CI machine is slow).
    Polls the store less often than the SMSC tests poll memory."""
    return wait_until(predicate, timeout, str(predicate), interval=0.02)


@contextmanager
def running(dispatcher: Dispatcher) -> Iterator[Dispatcher]:
    errors: list[BaseException] = []

    def run() -> None:
        try:
            dispatcher.run()
        except BaseException as exc:  # surfaced in the test
            errors.append(exc)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    try:
        yield dispatcher
    finally:
        dispatcher.stop()
        thread.join(timeout=30)
        assert not thread.is_alive(), "the dispatcher did not stop"
    if errors:
        raise errors[0]


def send_to(
    rt: Runtime, account_id: str, *recipients: str, **fields: Any
) -> SendResult:
    with transaction(rt.engine) as conn:
        account = account_view(repository.get_account(conn, account_id))
    request = SendRequest(
        text=fields.pop("text", "hello"), recipients=recipients, **fields
    )
    return send.submit_message(rt, account, request)


def message(rt: Runtime, message_id: str) -> Any:
    with transaction(rt.engine) as conn:
        return conn.execute(
            select(Message.__table__).where(Message.message_id == message_id)
        ).one()


def status_of(rt: Runtime, message_id: str) -> str:
    return str(message(rt, message_id).status)


def history(rt: Runtime, message_id: str) -> list[Any]:
    with transaction(rt.engine) as conn:
        return list(
            conn.execute(
                select(StatusHistory.__table__)
                .where(StatusHistory.message_id == message_id)
                .order_by(StatusHistory.id)
            )
        )


@contextmanager
def acme_runtime(
    db_url: str, clock: Callable[[], datetime] = utc_now, **settings: Any
) -> Iterator[Runtime]:
    """A migrated store with the account acme, on a runtime with `clock`."""
    from soapsms.store.migrate import upgrade
    from soapsms.usecases import accounts
    from tests.conftest import make_settings

    runtime = Runtime(make_settings(db_url, **settings), clock=clock)
    upgrade(runtime.engine)
    accounts.create_account(runtime, "acme", "s3cret", "ACME Corp")
    try:
        yield runtime
    finally:
        runtime.close()
