"""Queries on the store: reads and writes, no business rules.

Every function takes an open Connection, so the caller decides what one
transaction holds.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any, cast

from sqlalchemy import (
    Connection,
    Row,
    Table,
    and_,
    bindparam,
    delete,
    func,
    insert,
    literal_column,
    select,
    text,
    tuple_,
    update,
)

from soapsms.domain.status import CANCELLED
from soapsms.store import bulk, records
from soapsms.store.models import (
    Account,
    Batch,
    BlockedNumber,
    Message,
    Meta,
    RateEvent,
    StatusHistory,
)
from soapsms.store.records import AccountRecord, MessageContent

accounts = cast(Table, Account.__table__)
batches = cast(Table, Batch.__table__)
messages = cast(Table, Message.__table__)
history = cast(Table, StatusHistory.__table__)
rate_events = cast(Table, RateEvent.__table__)
blocked = cast(Table, BlockedNumber.__table__)

# --- gateway meta -----------------------------------------------------------


def get_meta(conn: Connection, key: str) -> str | None:
    return conn.scalar(select(Meta.value).where(Meta.key == key))


# --- accounts ---------------------------------------------------------------


# Statements of the per-request path are built once: building one costs
# more than running it (SQLAlchemy's construction and cache-key work).
_ACCOUNT = select(accounts).where(accounts.c.account_id == bindparam("account_id"))
_ACCOUNT_LOCKED = (
    select(accounts.c.account_id)
    .where(accounts.c.account_id == bindparam("account_id"))
    .with_for_update()
)


def get_account(conn: Connection, account_id: str) -> AccountRecord | None:
    row = conn.execute(_ACCOUNT, {"account_id": account_id}).first()
    return None if row is None else records.account(row)


def lock_account(conn: Connection, account_id: str) -> None:
    """Lock the account's row until the transaction ends (PostgreSQL)."""
    conn.execute(_ACCOUNT_LOCKED, {"account_id": account_id})


def list_accounts(conn: Connection) -> list[AccountRecord]:
    rows = conn.execute(select(accounts).order_by(accounts.c.account_id))
    return [records.account(row) for row in rows]


def insert_account(conn: Connection, values: dict[str, Any]) -> None:
    conn.execute(insert(accounts).values(**values))


def update_account(
    conn: Connection, account_id: str, values: dict[str, Any], now: datetime
) -> bool:
    """Change an account and bump its version (cached logins stop counting)."""
    result = conn.execute(
        update(accounts)
        .where(accounts.c.account_id == account_id)
        .values(**values, version=accounts.c.version + 1, updated_at=now)
    )
    return result.rowcount == 1


def take_credits(conn: Connection, account_id: str, amount: int) -> bool:
    """Take `amount` credits if the balance covers it; False otherwise."""
    result = conn.execute(
        update(accounts)
        .where(accounts.c.account_id == account_id, accounts.c.credits >= amount)
        .values(credits=accounts.c.credits - amount)
    )
    return result.rowcount == 1


def refund_credits(conn: Connection, account_id: str, amount: int) -> None:
    if amount:
        conn.execute(
            update(accounts)
            .where(accounts.c.account_id == account_id, accounts.c.credits.is_not(None))
            .values(credits=accounts.c.credits + amount)
        )


def blocked_among(
    conn: Connection, account_id: str, numbers: Sequence[str]
) -> set[str]:
    found: set[str] = set()
    for where in bulk.values_in(conn, blocked.c.number, numbers):
        found.update(
            conn.scalars(
                select(blocked.c.number).where(
                    blocked.c.account_id == account_id, where
                )
            )
        )
    return found


def add_blocked(conn: Connection, account_id: str, numbers: Iterable[str]) -> int:
    existing = blocked_among(conn, account_id, list(numbers))
    rows = [
        {"account_id": account_id, "number": n}
        for n in dict.fromkeys(numbers)
        if n not in existing
    ]
    if rows:
        conn.execute(insert(blocked), rows)
    return len(rows)


def remove_blocked(conn: Connection, account_id: str, numbers: Iterable[str]) -> int:
    result = conn.execute(
        delete(blocked).where(
            blocked.c.account_id == account_id, blocked.c.number.in_(list(numbers))
        )
    )
    return result.rowcount


def list_blocked(conn: Connection, account_id: str) -> list[str]:
    return list(
        conn.scalars(
            select(blocked.c.number)
            .where(blocked.c.account_id == account_id)
            .order_by(blocked.c.number)
        )
    )


def account_has_messages(conn: Connection, account_id: str) -> bool:
    """Whether any message (hence data kept for retention) belongs to it."""
    found = conn.scalar(
        select(messages.c.message_id)
        .where(messages.c.account_id == account_id)
        .limit(1)
    )
    return found is not None


def message_contents(
    conn: Connection, account_id: str, keys: Sequence[tuple[str, datetime]]
) -> list[MessageContent]:
    """What a resend needs of the account's messages among (id, created_at) keys:
    recipient, text, sender, encoding, validity and status (a support tool's
    handful; each key is a primary-key probe)."""
    found: list[MessageContent] = []
    for message_id, created_at in keys:
        found.extend(
            MessageContent(*row)
            for row in conn.execute(
                select(
                    *(messages.c[name] for name in records.MESSAGE_CONTENT_COLUMNS)
                ).where(
                    messages.c.message_id == message_id,
                    messages.c.created_at == created_at,
                    messages.c.account_id == account_id,
                )
            )
        )
    return found


def delete_account(conn: Connection, account_id: str) -> bool:
    """Remove an account with its blocked numbers, batches and rate events."""
    conn.execute(delete(blocked).where(blocked.c.account_id == account_id))
    conn.execute(delete(batches).where(batches.c.account_id == account_id))
    conn.execute(delete(rate_events).where(rate_events.c.account_id == account_id))
    result = conn.execute(delete(accounts).where(accounts.c.account_id == account_id))
    return bool(result.rowcount)


# --- rate limit -------------------------------------------------------------


def recent_sends(conn: Connection, account_id: str, since: datetime) -> int:
    return int(
        conn.scalar(
            select(func.coalesce(func.sum(rate_events.c.count), 0)).where(
                rate_events.c.account_id == account_id, rate_events.c.at > since
            )
        )
        or 0
    )


def record_sends(
    conn: Connection, account_id: str, at: datetime, count: int, forget_before: datetime
) -> None:
    # Old events are dropped as we go, so the window query never grows.
    conn.execute(
        delete(rate_events).where(
            rate_events.c.account_id == account_id, rate_events.c.at <= forget_before
        )
    )
    conn.execute(insert(rate_events).values(account_id=account_id, at=at, count=count))


def forget_keyed_events(
    conn: Connection, low: str, high: str, before: datetime
) -> None:
    """Drop rate events older than `before` whose keys sort in [low, high):
    the login throttle's and nonces' keys, which are not reused like an
    account's and so are not dropped as they go."""
    conn.execute(
        delete(rate_events).where(
            rate_events.c.account_id >= low,
            rate_events.c.account_id < high,
            rate_events.c.at < before,
        )
    )


# --- batches and messages ---------------------------------------------------


_BATCH_BY_REFERENCE = select(batches).where(
    batches.c.account_id == bindparam("account_id"),
    batches.c.client_reference == bindparam("reference"),
)


def find_batch_by_reference(
    conn: Connection, account_id: str, reference: str
) -> Row[Any] | None:
    return conn.execute(
        _BATCH_BY_REFERENCE, {"account_id": account_id, "reference": reference}
    ).first()


def get_batch(conn: Connection, account_id: str, batch_id: str) -> Row[Any] | None:
    return conn.execute(
        select(batches).where(
            batches.c.account_id == account_id, batches.c.batch_id == batch_id
        )
    ).first()


def insert_batch(conn: Connection, values: dict[str, Any]) -> None:
    bulk.insert_rows(conn, batches, [values])


def _status_columns() -> list[Any]:
    """What answers about a message need: all but the text and dispatch state."""
    skip = {"text", "status_callback_url", "lease_owner", "attempts", "due_at"}
    return [c for c in messages.c if c.name not in skip]


def insert_messages(conn: Connection, rows: list[dict[str, Any]]) -> None:
    """A bulk send's rows: COPY on PostgreSQL, executemany on SQLite."""
    bulk.insert_rows(conn, messages, rows)


def messages_of_batch(
    conn: Connection, batch_id: str, created_at: datetime
) -> list[Row[Any]]:
    return list(
        conn.execute(
            select(*_status_columns())
            .where(messages.c.batch_id == batch_id, messages.c.created_at == created_at)
            .order_by(messages.c.message_id)
        )
    )


def messages_by_ids_joined(
    conn: Connection, account_id: str, keys: Sequence[tuple[str, datetime]]
) -> list[Row[Any]]:
    """Messages of the account among (message_id, created_at) keys, any order,
    by joining the keys as arrays (PostgreSQL): each probe touches only its
    own month's partition and the statement has two parameters, not 2,000."""
    if not keys:
        return []
    columns = ", ".join(f"m.{c.name}" for c in _status_columns())
    return list(
        conn.execute(
            text(
                f"SELECT {columns} FROM messages m JOIN unnest("
                "CAST(:ids AS varchar[]), CAST(:times AS timestamp[])"
                ") AS k(id, t) ON m.message_id = k.id AND m.created_at = k.t "
                "WHERE m.account_id = :account"
            ),
            {
                "ids": [k[0] for k in keys],
                "times": [k[1] for k in keys],
                "account": account_id,
            },
        )
    )


def messages_by_ids_probed(
    conn: Connection, account_id: str, keys: Sequence[tuple[str, datetime]]
) -> list[Row[Any]]:
    """Messages of the account among (message_id, created_at) keys, any order,
    looked up by message_id alone (the account is checked here): SQLite's
    planner otherwise walks an (account_id, created_at) index for every pair."""
    if not keys:
        return []
    wanted = set(keys)
    found: list[Row[Any]] = []
    for where in bulk.values_in(conn, messages.c.message_id, [k[0] for k in keys]):
        found.extend(
            row
            for row in conn.execute(select(*_status_columns()).where(where))
            if row.account_id == account_id
            and (row.message_id, row.created_at) in wanted
        )
    return found


def page_messages(
    conn: Connection,
    account_id: str,
    *,
    since: datetime | None,
    until: datetime | None,
    status: str | None,
    recipient: str | None,
    batch_id: str | None,
    after: tuple[datetime, str] | None,
    limit: int,
) -> list[Row[Any]]:
    """Newest first by (created_at, message_id), after the `after` row if given."""
    conditions = [messages.c.account_id == account_id]
    if since is not None:
        conditions.append(messages.c.created_at >= since)
    if until is not None:
        conditions.append(messages.c.created_at < until)
    if status is not None:
        conditions.append(messages.c.status == status)
    if recipient is not None:
        conditions.append(messages.c.recipient == recipient)
    if batch_id is not None:
        conditions.append(messages.c.batch_id == batch_id)
    if after is not None:
        conditions.append(
            tuple_(messages.c.created_at, messages.c.message_id) < tuple_(*after)
        )
    newest: Any = messages.c.created_at
    if conn.dialect.name == "sqlite" and (recipient, batch_id) != (None, None):
        # A unary + keeps SQLite off (account_id, created_at), which it takes
        # for the ORDER BY and then walks every message of the account (0.3 s
        # at 400,000); the recipient's or batch's index finds the few to sort.
        newest = literal_column("+messages.created_at")
    return list(
        conn.execute(
            select(*_status_columns())
            .where(and_(*conditions))
            .order_by(newest.desc(), messages.c.message_id.desc())
            .limit(limit)
        )
    )


def cancel_messages(
    conn: Connection,
    keys: Sequence[tuple[str, datetime]],
    statuses: Iterable[str],
    now: datetime,
) -> list[Row[Any]]:
    """Cancel those of `keys` still in `statuses` and not leased; returns them."""
    statuses = list(statuses)
    cancelled: list[Row[Any]] = []
    for where in bulk.pairs_in(
        conn, (messages.c.message_id, messages.c.created_at), keys
    ):
        result = conn.execute(
            update(messages)
            .where(
                where,
                messages.c.status.in_(statuses),
                (messages.c.lease_until.is_(None)) | (messages.c.lease_until < now),
            )
            .values(
                status=CANCELLED,
                done_at=now,
                updated_at=now,
                lease_owner=None,
                lease_until=None,
            )
            .returning(
                messages.c.message_id,
                messages.c.created_at,
                messages.c.account_id,
                messages.c.charged,
            )
        )
        cancelled.extend(result)
    return cancelled


def add_history(conn: Connection, rows: list[dict[str, Any]]) -> None:
    bulk.insert_rows(conn, history, rows)


def dumps(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"))
