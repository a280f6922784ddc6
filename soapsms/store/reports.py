"""Report reads: an account's messages in a time range, one keyset page at a time."""

from __future__ import annotations

from datetime import datetime
from typing import Any, cast

from sqlalchemy import Connection, Table, select, tuple_

from soapsms.domain.status_fields import REPORT_COLUMNS
from soapsms.store.models import Message

messages = cast(Table, Message.__table__)

# The report's columns, as the status-field declaration names them.
COLUMNS = tuple(messages.c[column] for _, column, _ in REPORT_COLUMNS)
_NAMES = tuple(name for name, _, _ in REPORT_COLUMNS)


def page(
    conn: Connection,
    account_id: str,
    since: datetime,
    until: datetime,
    after: tuple[datetime, str] | None,
    limit: int,
) -> list[dict[str, Any]]:
    """Up to `limit` messages of `account_id` created in [since, until), after
    the key `after` (created_at, message_id), in that order: the index
    ix_messages_account_created walked from where the last page stopped.
    Each message is a dict of the report's columns, in order."""
    query = select(*COLUMNS).where(
        messages.c.account_id == account_id,
        messages.c.created_at >= since,
        messages.c.created_at < until,
    )
    if after is not None:
        query = query.where(
            tuple_(messages.c.created_at, messages.c.message_id) > tuple_(*after)
        )
    rows = conn.execute(
        query.order_by(messages.c.created_at, messages.c.message_id).limit(limit)
    )
    return [dict(zip(_NAMES, row, strict=True)) for row in rows]
