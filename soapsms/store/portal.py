"""Reads of the customer portal: daily counts, delivery times, a message's
history, parts and receipts, inbound messages for given numbers."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any, cast

from sqlalchemy import ColumnElement, Connection, Table, func, select

from soapsms.store.models import (
    InboundMessage,
    Message,
    MessagePart,
    ReceiptRecord,
    StatusHistory,
)

messages = cast(Table, Message.__table__)
history = cast(Table, StatusHistory.__table__)
parts = cast(Table, MessagePart.__table__)
receipts = cast(Table, ReceiptRecord.__table__)
inbound = cast(Table, InboundMessage.__table__)


def _plain(rows: Any) -> list[dict[str, Any]]:
    """Rows as plain dicts: the use cases see no SQLAlchemy types."""
    return [dict(row._mapping) for row in rows]


def _day(conn: Connection, column: Any) -> Any:
    """A timestamp's UTC day as YYYY-MM-DD text; on SQLite the stored text's
    prefix, which costs a fifth of date() over a month of messages."""
    if conn.dialect.name == "postgresql":
        return func.to_char(column, "YYYY-MM-DD")
    return func.substr(column, 1, 10)


def _seconds(conn: Connection, start: Any, end: Any) -> Any:
    if conn.dialect.name == "postgresql":
        return func.extract("epoch", end - start)
    return (func.julianday(end) - func.julianday(start)) * 86400.0


def daily_counts(
    conn: Connection, account_id: str, since: datetime
) -> list[tuple[str, str, int]]:
    """(UTC day as YYYY-MM-DD, status, messages) of the account's messages
    created since `since`; one pass over its (account_id, created_at) index."""
    day = _day(conn, messages.c.created_at)
    rows = conn.execute(
        select(day, messages.c.status, func.count())
        .where(messages.c.account_id == account_id, messages.c.created_at >= since)
        .group_by(day, messages.c.status)
    )
    return [(str(d), s, int(n)) for d, s, n in rows]


def delivery_seconds(
    conn: Connection, account_id: str, since: datetime, limit: int
) -> list[tuple[str, float]]:
    """(UTC day created, seconds from acceptance to delivery) of the newest
    `limit` DELIVERED messages created since `since`, newest first."""
    rows = conn.execute(
        select(
            _day(conn, messages.c.created_at),
            _seconds(conn, messages.c.created_at, messages.c.done_at),
        )
        .where(
            messages.c.account_id == account_id,
            messages.c.created_at >= since,
            messages.c.status == "DELIVERED",
            messages.c.done_at.is_not(None),
        )
        .order_by(messages.c.created_at.desc())
        .limit(limit)
    )
    return [(str(d), float(x)) for d, x in rows]


def _of_message(
    conn: Connection, table: Table, message_id: str, created_at: datetime, *order: Any
) -> list[dict[str, Any]]:
    """A child table's rows of one message, by (message_id, message_created_at)."""
    return _plain(
        conn.execute(
            select(table)
            .where(
                table.c.message_id == message_id,
                table.c.message_created_at == created_at,
            )
            .order_by(*order)
        )
    )


def history_of(
    conn: Connection, message_id: str, created_at: datetime
) -> list[dict[str, Any]]:
    return _of_message(
        conn, history, message_id, created_at, history.c.occurred_at, history.c.id
    )


def parts_of(
    conn: Connection, message_id: str, created_at: datetime
) -> list[dict[str, Any]]:
    return _of_message(conn, parts, message_id, created_at, parts.c.part_no)


def receipts_of(
    conn: Connection, message_id: str, created_at: datetime
) -> list[dict[str, Any]]:
    return _of_message(
        conn, receipts, message_id, created_at, receipts.c.received_at, receipts.c.id
    )


def text_of(
    conn: Connection, account_id: str, message_id: str, created_at: datetime
) -> str | None:
    return conn.scalar(
        select(messages.c.text).where(
            messages.c.message_id == message_id,
            messages.c.created_at == created_at,
            messages.c.account_id == account_id,
        )
    )


def inbound_to(
    conn: Connection, numbers: Sequence[str], before_id: int | None, limit: int
) -> list[dict[str, Any]]:
    """Inbound messages sent to any of `numbers`, newest first, below `before_id`."""
    conditions: list[ColumnElement[bool]] = [inbound.c.recipient.in_(list(numbers))]
    if before_id is not None:
        conditions.append(inbound.c.id < before_id)
    return _plain(
        conn.execute(
            select(inbound)
            .where(*conditions)
            .order_by(inbound.c.id.desc())
            .limit(limit)
        )
    )


def hourly_summary(
    conn: Connection, account_id: str, since: datetime, until: datetime
) -> list[tuple[datetime, str, int, int, int, int]]:
    """(UTC hour, status, messages, parts, parts delivered, credits) of the
    account's messages created in [since, until)."""
    if conn.dialect.name == "postgresql":
        hour: Any = func.date_trunc("hour", messages.c.created_at)
    else:  # the stored text's prefix: cheaper than strftime over a month
        hour = func.substr(messages.c.created_at, 1, 13)
    rows = conn.execute(
        select(
            hour,
            messages.c.status,
            func.count(),
            func.sum(messages.c.parts),
            func.sum(messages.c.parts_delivered),
            func.sum(messages.c.charged),
        )
        .where(
            messages.c.account_id == account_id,
            messages.c.created_at >= since,
            messages.c.created_at < until,
        )
        .group_by(hour, messages.c.status)
    )
    return [
        (
            h if isinstance(h, datetime) else datetime.fromisoformat(h + ":00"),
            s,
            int(n),
            int(p or 0),
            int(d or 0),
            int(c or 0),
        )
        for h, s, n, p, d, c in rows
    ]
