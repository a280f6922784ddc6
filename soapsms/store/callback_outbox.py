"""The status-callback outbox as its sender uses it: lease, look up, retry, give up."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Row

from soapsms.store import dispatch_queries as q
from soapsms.store import repository


@dataclass(frozen=True)
class OutboxEvent:
    """One status callback in the outbox; `payload` is its MessageStatus as JSON."""

    event_id: str
    message_id: str
    account_id: str
    url: str
    occurred_at: datetime
    payload: str
    attempts: int
    give_up_at: datetime


def _event(row: Row[Any]) -> OutboxEvent:
    return OutboxEvent(
        event_id=row.event_id,
        message_id=row.message_id,
        account_id=row.account_id,
        url=row.url,
        occurred_at=row.occurred_at,
        payload=row.payload,
        attempts=row.attempts,
        give_up_at=row.give_up_at,
    )


_UNLEASED = {"lease_owner": None, "lease_until": None}


class Outbox:
    """The outbox within one transaction (`conn`)."""

    def __init__(self, conn: Connection, locks: q.RowLocks) -> None:
        self.conn = conn
        self.locks = locks  # the store: how its database locks rows

    def lease(
        self,
        owner: str,
        now: datetime,
        until: datetime,
        limit: int,
        per_account: int,
    ) -> list[OutboxEvent]:
        """Lease due events (each lease counts as an attempt)."""
        rows = q.lease_callbacks(
            self.conn, self.locks, owner, now, until, limit, per_account=per_account
        )
        return [_event(r) for r in rows]

    def get(self, event_id: str) -> OutboxEvent | None:
        row = self.conn.execute(
            q.outbox.select().where(q.outbox.c.event_id == event_id)
        ).first()
        return None if row is None else _event(row)

    def retry_at(self, event_id: str, error: str, when: datetime) -> None:
        """Release the lease; the next attempt is due at `when`."""
        q.update_callback(
            self.conn,
            event_id,
            {"last_error": error[:500], "next_attempt_at": when, **_UNLEASED},
        )

    def give_up(self, event_id: str, error: str, now: datetime) -> None:
        """No more attempts; the event stays, failed, for the operator."""
        q.update_callback(
            self.conn,
            event_id,
            {
                "state": "failed",
                "last_error": error[:500],
                "next_attempt_at": now,
                **_UNLEASED,
            },
        )

    def delete(self, event_ids: Sequence[str]) -> None:
        q.delete_callbacks(self.conn, event_ids)

    def secret_of(self, account_id: str) -> str | None:
        """The account's callback secret; None when it has none (or is gone)."""
        account = repository.get_account(self.conn, account_id)
        return account.callback_secret if account is not None else None
