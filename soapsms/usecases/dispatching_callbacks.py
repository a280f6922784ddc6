"""The status-callback outbox: lease due events, then mark them sent or retry."""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from soapsms.store import dispatch_queries as q
from soapsms.store import repository
from soapsms.store.db import transaction
from soapsms.usecases.results import MessageStatus
from soapsms.usecases.runtime import Runtime

logger = logging.getLogger(__name__)

FIRST_RETRY = timedelta(seconds=10)
LONGEST_RETRY = timedelta(minutes=30)


@dataclass(frozen=True)
class PendingCallback:
    event_id: str
    url: str
    occurred_at: datetime
    status: MessageStatus
    attempts: int
    secret: str | None  # the account's callback secret; None: unsigned


def _status(payload: str) -> MessageStatus:
    values: dict[str, Any] = json.loads(payload)
    for name in (
        "created_at",
        "scheduled_for",
        "submitted_at",
        "done_at",
        "updated_at",
    ):
        if values.get(name):
            values[name] = datetime.fromisoformat(values[name])
    return MessageStatus(**values)


def claim_callbacks(
    rt: Runtime, owner: str, limit: int, lease: timedelta
) -> list[PendingCallback]:
    now = rt.now()
    with transaction(rt.engine, write=True) as conn:
        rows = q.lease_callbacks(conn, owner, now, now + lease, limit)
        secrets: dict[str, str | None] = {}
        for account_id in {r.account_id for r in rows}:
            account = repository.get_account(conn, account_id)
            secrets[account_id] = account.callback_secret if account else None
    return [
        PendingCallback(
            event_id=r.event_id,
            url=r.url,
            occurred_at=r.occurred_at,
            status=_status(r.payload),
            attempts=r.attempts,
            secret=secrets.get(r.account_id),
        )
        for r in sorted(rows, key=lambda r: r.event_id)
    ]


def callbacks_delivered(rt: Runtime, event_ids: Sequence[str]) -> None:
    """Delivered events leave the outbox; the status history keeps the change."""
    if event_ids:
        with transaction(rt.engine, write=True) as conn:
            q.delete_callbacks(conn, event_ids)


def callback_failed(
    rt: Runtime, event_id: str, error: str, *, permanent: bool = False
) -> None:
    """Schedule the next attempt, or give up after the retry period or for good."""
    now = rt.now()
    with transaction(rt.engine, write=True) as conn:
        row = conn.execute(
            q.outbox.select().where(q.outbox.c.event_id == event_id)
        ).first()
        if row is None:
            return
        attempts = row.attempts + 1
        delay = min(FIRST_RETRY * (1 << min(attempts - 1, 16)), LONGEST_RETRY)
        values: dict[str, Any] = {
            "attempts": attempts,
            "last_error": error[:500],
            "lease_owner": None,
            "lease_until": None,
            "next_attempt_at": now + delay,
        }
        if permanent or now + delay > row.give_up_at:
            values["state"] = "failed"
            logger.warning(
                "status callback %s for %s given up after %d attempts: %s",
                event_id,
                row.message_id,
                attempts,
                error,
            )
        q.update_callback(conn, event_id, values)
