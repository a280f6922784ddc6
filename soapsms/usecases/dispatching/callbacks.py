"""The status-callback outbox: lease due events, then mark them sent or retry."""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from soapsms.domain import status_fields
from soapsms.store.callback_outbox import Outbox, OutboxEvent
from soapsms.store.db import transaction
from soapsms.usecases.results import MessageStatus
from soapsms.usecases.runtime import Runtime

logger = logging.getLogger(__name__)

FIRST_RETRY = timedelta(seconds=10)
LONGEST_RETRY = timedelta(minutes=30)
# 24 hours of back-off take ~56 attempts; leases that ran out count too.
MAX_ATTEMPTS = 60
# Of one claim, at most this many events of one account.
PER_ACCOUNT = 10


@dataclass(frozen=True)
class PendingCallback:
    event_id: str
    url: str
    occurred_at: datetime
    status: MessageStatus
    attempts: int
    secret: str | None  # the account's callback secret; None: unsigned


def _status(payload: str) -> MessageStatus:
    return status_fields.from_json(json.loads(payload))


def claim_callbacks(
    rt: Runtime, owner: str, limit: int, lease: timedelta
) -> list[PendingCallback]:
    now = rt.now()
    with transaction(rt.engine, write=True) as conn:
        outbox = Outbox(conn, rt.store)
        leased = outbox.lease(owner, now, now + lease, limit, per_account=PER_ACCOUNT)
        events = [e for e in leased if e.attempts <= MAX_ATTEMPTS]
        for event in leased:
            if event.attempts > MAX_ATTEMPTS:
                _give_up(outbox, event, "too many attempts", now)
        secrets = {a: outbox.secret_of(a) for a in {e.account_id for e in events}}
    return [
        PendingCallback(
            event_id=e.event_id,
            url=e.url,
            occurred_at=e.occurred_at,
            status=_status(e.payload),
            attempts=e.attempts,
            secret=secrets.get(e.account_id),
        )
        for e in sorted(events, key=lambda e: e.event_id)
    ]


def callbacks_delivered(rt: Runtime, event_ids: Sequence[str]) -> None:
    """Delivered events leave the outbox; the status history keeps the change."""
    if event_ids:
        with transaction(rt.engine, write=True) as conn:
            Outbox(conn, rt.store).delete(event_ids)


def callback_failed(
    rt: Runtime, event_id: str, error: str, *, permanent: bool = False
) -> None:
    """Schedule the next attempt, or give up after the retry period, the
    attempt limit or for good."""
    now = rt.now()
    with transaction(rt.engine, write=True) as conn:
        outbox = Outbox(conn, rt.store)
        event = outbox.get(event_id)
        if event is None:
            return
        # The lease counted this attempt already.
        attempts = max(event.attempts, 1)
        delay = min(FIRST_RETRY * (1 << min(attempts - 1, 16)), LONGEST_RETRY)
        if permanent or attempts >= MAX_ATTEMPTS or now + delay > event.give_up_at:
            _give_up(outbox, event, error, now)
            return
        outbox.retry_at(event_id, error, now + delay)


def _give_up(outbox: Outbox, event: OutboxEvent, error: str, now: datetime) -> None:
    logger.warning(
        "status callback %s for %s given up after %d attempts: %s",
        event.event_id,
        event.message_id,
        event.attempts,
        error,
    )
    outbox.give_up(event.event_id, error, now)
