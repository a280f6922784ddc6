"""Report reads: an account's messages in a time range, one keyset page at a time."""

from __future__ import annotations

from datetime import datetime
from typing import Any, cast

from sqlalchemy import Connection, Row, Table, select, tuple_

from soapsms.store.models import Message

messages = cast(Table, Message.__table__)

COLUMNS = (
    messages.c.message_id,
    messages.c.created_at,
    messages.c.batch_id,
    messages.c.client_reference,
    messages.c.recipient,
    messages.c.sender,
    messages.c.status,
    messages.c.error_code,
    messages.c.parts,
    messages.c.parts_delivered,
    messages.c.charged,
    messages.c.submitted_at,
    messages.c.done_at,
)


def page(
    conn: Connection,
    account_id: str,
    since: datetime,
    until: datetime,
    after: tuple[datetime, str] | None,
    limit: int,
) -> list[Row[Any]]:
    """Up to `limit` messages of `account_id` created in [since, until), after
    the key `after` (created_at, message_id), in that order: the index
    ix_messages_account_created walked from where the last page stopped."""
    query = select(*COLUMNS).where(
        messages.c.account_id == account_id,
        messages.c.created_at >= since,
        messages.c.created_at < until,
    )
    if after is not None:
        query = query.where(
            tuple_(messages.c.created_at, messages.c.message_id) > tuple_(*after)
        )
    return list(
        conn.execute(
            query.order_by(messages.c.created_at, messages.c.message_id).limit(limit)
        )
    )
