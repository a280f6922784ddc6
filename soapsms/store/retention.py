"""Retention queries: whole monthly partitions dropped, the rest deleted in
bounded batches by time-ordered keys (ULID ids carry their creation time)."""

from __future__ import annotations

import re
from datetime import date, datetime
from typing import Any, cast

from sqlalchemy import Connection, Table, delete, func, select, text

from soapsms.domain.ids import new_id
from soapsms.store import bulk
from soapsms.store.models import (
    Batch,
    CallbackEvent,
    InboundMessage,
    Message,
    MessagePart,
    RateEvent,
    ReceiptRecord,
    StatusHistory,
)
from soapsms.store.partitions import month_start, partitions_of

messages = cast(Table, Message.__table__)
history = cast(Table, StatusHistory.__table__)
parts = cast(Table, MessagePart.__table__)
batches = cast(Table, Batch.__table__)
receipts = cast(Table, ReceiptRecord.__table__)
inbound = cast(Table, InboundMessage.__table__)
outbox = cast(Table, CallbackEvent.__table__)
rate_events = cast(Table, RateEvent.__table__)

# Dropped together: a month of messages with its history and parts.
PARTITIONED = ("messages", "status_history", "message_parts")
_MONTH = re.compile(r"_(\d{4})_(\d{2})$")


_EPOCH = datetime(1970, 1, 1)


def floor_id(before: datetime) -> str:
    """The smallest ULID of `before`'s millisecond: ids below it are older."""
    # ULIDs start at the Unix epoch: nothing is older than that.
    return new_id(max(before, _EPOCH))[:10] + "0" * 16


# --- PostgreSQL partitions -----------------------------------------------------


def month_partitions(conn: Connection) -> list[tuple[str, str, date]]:
    """(parent, partition, month) of every monthly partition in this schema."""
    found = []
    for parent, name in partitions_of(conn, PARTITIONED):
        match = _MONTH.search(name)
        if match and name == f"{parent}_{match.group(1)}_{match.group(2)}":
            found.append((parent, name, date(int(match[1]), int(match[2]), 1)))
    return sorted(found, key=lambda row: (row[2], PARTITIONED.index(row[0])))


def partitions_before(conn: Connection, cutoff: datetime) -> list[tuple[str, str]]:
    """(parent, partition) wholly before `cutoff`: their month ends by then.
    Children first (history, parts), so a month never loses its messages first."""
    due = [
        (parent, name, month)
        for parent, name, month in month_partitions(conn)
        if datetime.combine(month_start(month, 1), datetime.min.time()) <= cutoff
    ]
    due.sort(key=lambda row: (row[2], -PARTITIONED.index(row[0])))
    return [(parent, name) for parent, name, _ in due]


def drop_partition(conn: Connection, parent: str, name: str) -> None:
    """Detach and drop one month. The parent's lock is held for milliseconds,
    and never waited for longer than lock_timeout: a SendMessage in progress
    makes this attempt fail instead of queueing every later send behind it."""
    conn.execute(text("SET LOCAL lock_timeout = '2s'"))
    conn.execute(text(f'ALTER TABLE "{parent}" DETACH PARTITION "{name}"'))
    conn.execute(text(f'DROP TABLE "{name}"'))


def partition_rows(conn: Connection, name: str) -> int:
    return int(conn.scalar(text(f'SELECT count(*) FROM "{name}"')) or 0)


# --- row by row, in batches ------------------------------------------------------


def old_message_keys(
    conn: Connection, cutoff: datetime, limit: int
) -> list[tuple[str, datetime]]:
    """Up to `limit` messages created before `cutoff`, oldest first (by the
    primary key: a message id's prefix is its creation time)."""
    rows = conn.execute(
        select(messages.c.message_id, messages.c.created_at)
        .where(messages.c.message_id < floor_id(cutoff))
        .order_by(messages.c.message_id)
        .limit(limit)
    )
    return [(r.message_id, r.created_at) for r in rows]


def delete_messages(conn: Connection, keys: list[tuple[str, datetime]]) -> int:
    """Messages and everything kept per message: history, parts, callbacks."""
    for table, columns in (
        (history, (history.c.message_id, history.c.message_created_at)),
        (parts, (parts.c.message_id, parts.c.message_created_at)),
    ):
        for where in bulk.pairs_in(conn, columns, keys):
            conn.execute(delete(table).where(where))
    for where in bulk.values_in(conn, outbox.c.message_id, [k[0] for k in keys]):
        conn.execute(delete(outbox).where(where))
    for where in bulk.pairs_in(
        conn, (messages.c.message_id, messages.c.created_at), keys
    ):
        conn.execute(delete(messages).where(where))
    return len(keys)


def _delete_by_key(
    conn: Connection, table: Table, key: Any, where: Any, limit: int
) -> int:
    doomed = list(conn.scalars(select(key).where(where).order_by(key).limit(limit)))
    if doomed:
        conn.execute(delete(table).where(key.in_(doomed)))
    return len(doomed)


def delete_old_rows(conn: Connection, table: str, cutoff: datetime, limit: int) -> int:
    """Up to `limit` rows of a per-message table older than `cutoff`, each by
    its own indexed time key."""
    if table == "batches":
        key = batches.c.batch_id
        return _delete_by_key(conn, batches, key, key < floor_id(cutoff), limit)
    if table == "callback_outbox":
        key = outbox.c.event_id
        return _delete_by_key(conn, outbox, key, key < floor_id(cutoff), limit)
    if table == "receipts":
        where = receipts.c.received_at < cutoff
        return _delete_by_key(conn, receipts, receipts.c.id, where, limit)
    if table == "inbound_messages":
        where = inbound.c.received_at < cutoff
        return _delete_by_key(conn, inbound, inbound.c.id, where, limit)
    if table == "rate_events":
        where = rate_events.c.at < cutoff
        return _delete_by_key(conn, rate_events, rate_events.c.id, where, limit)
    raise ValueError(table)


ROW_TABLES = (
    "batches",
    "callback_outbox",
    "receipts",
    "inbound_messages",
    "rate_events",
)


def count_old(conn: Connection, table: str, cutoff: datetime) -> int:
    """Rows older than `cutoff` (for --dry-run only: it counts)."""
    floor = floor_id(cutoff)
    tables: dict[str, tuple[Table, Any]] = {
        "messages": (messages, messages.c.message_id < floor),
        "status_history": (history, history.c.message_created_at < cutoff),
        "message_parts": (parts, parts.c.message_created_at < cutoff),
        "batches": (batches, batches.c.batch_id < floor),
        "callback_outbox": (outbox, outbox.c.event_id < floor),
        "receipts": (receipts, receipts.c.received_at < cutoff),
        "inbound_messages": (inbound, inbound.c.received_at < cutoff),
        "rate_events": (rate_events, rate_events.c.at < cutoff),
    }
    table_obj, where = tables[table]
    return int(
        conn.scalar(select(func.count()).select_from(table_obj).where(where)) or 0
    )
