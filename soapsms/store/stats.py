"""Cheap operational reads: queue depth (capped), oldest due message, heartbeats.

Each query walks the partial index `ix_messages_due` (only waiting messages)
or the tiny `dispatchers` table, and the depth stops counting at a cap, so a
scrape or a health check never counts millions of rows.
"""

from __future__ import annotations

from datetime import datetime
from typing import cast

from sqlalchemy import Connection, Table, func, select, text

from soapsms.store.models import WAITING, DispatcherBeat, Message

messages = cast(Table, Message.__table__)
dispatchers = cast(Table, DispatcherBeat.__table__)


def due_depth(conn: Connection, now: datetime, cap: int) -> int:
    """Due waiting messages, counted up to `cap` (then `cap` is returned)."""
    due = (
        select(messages.c.message_id)
        .where(text(WAITING), messages.c.due_at <= now)
        .limit(cap)
        .subquery()
    )
    return int(conn.scalar(select(func.count()).select_from(due)) or 0)


def oldest_due(conn: Connection, now: datetime) -> datetime | None:
    """The earliest `due_at` of a waiting message that is due: min of the index."""
    return cast(
        datetime | None,
        conn.scalar(
            select(func.min(messages.c.due_at)).where(
                text(WAITING), messages.c.due_at <= now
            )
        ),
    )


def last_heartbeat(conn: Connection) -> tuple[datetime | None, int]:
    """The newest dispatcher heartbeat and how many dispatcher rows there are."""
    row = conn.execute(select(func.max(dispatchers.c.heartbeat_at), func.count())).one()
    return row[0], int(row[1] or 0)
