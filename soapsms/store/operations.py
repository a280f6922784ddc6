"""The console's operational tables and reads: connector states published by
dispatchers, connector and account pauses, the queue's shape, and which
account a message or batch belongs to.

Like `repository`, every function takes an open Connection and holds no
business rule; `soapsms.usecases.carriers` and `.operations` decide what
they mean. The queue reads walk the partial index `ix_messages_due` and stop
at a cap, as `store.stats` does.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Connection, Table, delete, insert, select, text, update

from soapsms.store.models import (
    WAITING,
    AccountPause,
    Batch,
    ConnectorPause,
    ConnectorState,
    Message,
)

states = cast(Table, ConnectorState.__table__)
connector_pauses = cast(Table, ConnectorPause.__table__)
account_pauses = cast(Table, AccountPause.__table__)
messages = cast(Table, Message.__table__)
batches = cast(Table, Batch.__table__)

_WAITING = text(WAITING)  # as ix_messages_due is spelled (see models.WAITING)


@dataclass(frozen=True)
class StateRow:
    dispatcher_id: str
    connector: str
    bound: bool
    since: datetime
    in_flight: int
    window: int | None
    submits_per_minute: int
    receipts_per_minute: int
    last_error: str | None
    last_error_at: datetime | None
    updated_at: datetime


@dataclass(frozen=True)
class Pause:
    """A connector or an account paused: by whom, since when."""

    name: str
    paused_by: str
    paused_at: datetime


@dataclass(frozen=True)
class Waiting:
    """A waiting message, as the queue view shows it."""

    message_id: str
    created_at: datetime
    account_id: str
    recipient: str
    status: str
    due_at: datetime
    attempts: int
    error_code: str | None


# --- connector states ---------------------------------------------------------


def publish_states(conn: Connection, rows: list[dict[str, Any]]) -> None:
    """Write each (dispatcher_id, connector) row: an update, else an insert
    (only its own dispatcher writes a row, so the two never race)."""
    for row in rows:
        done = conn.execute(
            update(states)
            .where(
                states.c.dispatcher_id == row["dispatcher_id"],
                states.c.connector == row["connector"],
            )
            .values(**row)
        )
        if done.rowcount == 0:
            conn.execute(insert(states).values(**row))


def forget_states(
    conn: Connection,
    *,
    dispatcher_id: str | None = None,
    before: datetime | None = None,
) -> None:
    """Drop a dispatcher's rows, or every row not updated since `before`."""
    query = delete(states)
    if dispatcher_id is not None:
        query = query.where(states.c.dispatcher_id == dispatcher_id)
    if before is not None:
        query = query.where(states.c.updated_at < before)
    conn.execute(query)


def list_states(conn: Connection, since: datetime) -> list[StateRow]:
    """Rows updated since `since` (older ones are dispatchers that are gone)."""
    query = (
        select(states)
        .where(states.c.updated_at >= since)
        .order_by(states.c.connector, states.c.dispatcher_id)
    )
    return [
        StateRow(**{f: getattr(r, f) for f in StateRow.__annotations__})
        for r in conn.execute(query)
    ]


# --- pauses ---------------------------------------------------------------------


def _pauses(conn: Connection, table: Table, key: str) -> list[Pause]:
    column = table.c[key]
    return [
        Pause(r[0], r[1], r[2])
        for r in conn.execute(
            select(column, table.c.paused_by, table.c.paused_at).order_by(column)
        )
    ]


def paused_connectors(conn: Connection) -> list[Pause]:
    return _pauses(conn, connector_pauses, "connector")


def paused_accounts(conn: Connection) -> list[Pause]:
    return _pauses(conn, account_pauses, "account_id")


def _pause(
    conn: Connection, table: Table, key: str, name: str, by: str, now: datetime
) -> bool:
    """True when newly paused, False when it was paused already."""
    column = table.c[key]
    if conn.scalar(select(column).where(column == name)) is not None:
        return False
    conn.execute(insert(table).values({key: name, "paused_by": by, "paused_at": now}))
    return True


def _resume(conn: Connection, table: Table, key: str, name: str) -> bool:
    return bool(conn.execute(delete(table).where(table.c[key] == name)).rowcount)


def pause_connector(conn: Connection, name: str, by: str, now: datetime) -> bool:
    return _pause(conn, connector_pauses, "connector", name, by, now)


def resume_connector(conn: Connection, name: str) -> bool:
    return _resume(conn, connector_pauses, "connector", name)


def pause_account(conn: Connection, account_id: str, by: str, now: datetime) -> bool:
    return _pause(conn, account_pauses, "account_id", account_id, by, now)


def resume_account(conn: Connection, account_id: str) -> bool:
    return _resume(conn, account_pauses, "account_id", account_id)


# --- the queue ------------------------------------------------------------------


def _waiting(row: Any) -> Waiting:
    return Waiting(**{f: getattr(row, f) for f in Waiting.__annotations__})


_WAITING_COLUMNS = [messages.c[f] for f in Waiting.__annotations__]


def due_sample(conn: Connection, now: datetime, cap: int) -> list[Waiting]:
    """Up to `cap` due waiting messages, oldest due first."""
    query = (
        select(*_WAITING_COLUMNS)
        .where(_WAITING, messages.c.due_at <= now)
        .order_by(messages.c.due_at)
        .limit(cap)
    )
    return [_waiting(r) for r in conn.execute(query)]


def backing_off(conn: Connection, now: datetime, cap: int) -> list[Waiting]:
    """Up to `cap` QUEUED messages waiting out a retry back-off, due first."""
    query = (
        select(*_WAITING_COLUMNS)
        .where(
            _WAITING,
            messages.c.due_at > now,
            messages.c.status == "QUEUED",
            messages.c.attempts > 0,
        )
        .order_by(messages.c.due_at)
        .limit(cap)
    )
    return [_waiting(r) for r in conn.execute(query)]


def account_of_message(
    conn: Connection, message_id: str, created_at: datetime
) -> str | None:
    """The account a message belongs to (by its primary key)."""
    return cast(
        str | None,
        conn.scalar(
            select(messages.c.account_id).where(
                messages.c.message_id == message_id,
                messages.c.created_at == created_at,
            )
        ),
    )


def account_of_batch(conn: Connection, batch_id: str) -> str | None:
    return cast(
        str | None,
        conn.scalar(select(batches.c.account_id).where(batches.c.batch_id == batch_id)),
    )
