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
    select,
    text,
    tuple_,
    update,
)

from soapsms.store import bulk, driver
from soapsms.store.models import (
    Account,
    Batch,
    BlockedNumber,
    Message,
    Meta,
    RateEvent,
    StatusHistory,
)

accounts = cast(Table, Account.__table__)
batches = cast(Table, Batch.__table__)
messages = cast(Table, Message.__table__)
history = cast(Table, StatusHistory.__table__)
rate_events = cast(Table, RateEvent.__table__)
blocked = cast(Table, BlockedNumber.__table__)

# SQLite allows 32,766 bound parameters a statement; stay far below.
_CHUNK = 900


def _chunks(items: Sequence[Any], size: int = _CHUNK) -> Iterable[Sequence[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


# --- gateway meta -----------------------------------------------------------


def get_meta(conn: Connection, key: str) -> str | None:
    return conn.scalar(select(Meta.value).where(Meta.key == key))


# --- accounts ---------------------------------------------------------------


# Statements of the per-request path are built once: building one costs
# more than running it (SQLAlchemy's construction and cache-key work).
_ACCOUNT = select(accounts).where(accounts.c.account_id == bindparam("account_id"))
_ACCOUNT_LOCKED = _ACCOUNT.with_for_update()


def get_account(
    conn: Connection, account_id: str, *, lock: bool = False
) -> Row[Any] | None:
    query = _ACCOUNT_LOCKED if lock and conn.dialect.name == "postgresql" else _ACCOUNT
    return conn.execute(query, {"account_id": account_id}).first()


_VERSION_AND_BLOCKED = text(
    "SELECT a.version, ARRAY(SELECT b.number FROM blocked_numbers b "
    "WHERE b.account_id = a.account_id "
    "AND b.number = ANY(CAST(:numbers AS varchar[]))) AS blocked "
    "FROM accounts a WHERE a.account_id = :account"
)

# One statement text for any number of recipients: they travel as a JSON array.
_SQLITE_VERSION_AND_BLOCKED = (
    "SELECT a.version, (SELECT json_group_array(b.number) FROM blocked_numbers b "
    "WHERE b.account_id = a.account_id "
    "AND b.number IN (SELECT value FROM json_each(?2))) "
    "FROM accounts a WHERE a.account_id = ?1"
)


def version_and_blocked(
    conn: Connection, account_id: str, numbers: Sequence[str]
) -> tuple[int | None, set[str]]:
    """The account's version and which of `numbers` it blocks: what a send
    reads about its account, in one round trip on PostgreSQL."""
    if conn.dialect.name == "postgresql":
        row = conn.execute(
            _VERSION_AND_BLOCKED, {"account": account_id, "numbers": list(numbers)}
        ).first()
        return (None, set()) if row is None else (row.version, set(row.blocked))
    # On the driver's own cursor (store/driver.py): SQLAlchemy's compilation
    # of an expanding IN list cost more than the lookups on every send.
    found = driver.rows(
        conn, _SQLITE_VERSION_AND_BLOCKED, (account_id, json.dumps(list(numbers)))
    )
    return (found[0][0], set(json.loads(found[0][1]))) if found else (None, set())


def list_accounts(conn: Connection) -> list[Row[Any]]:
    return list(conn.execute(select(accounts).order_by(accounts.c.account_id)))


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


def insert_batch_and_messages(
    conn: Connection, batch: dict[str, Any], rows: list[dict[str, Any]]
) -> None:
    """A batch and its messages; on PostgreSQL a small send in one statement
    (one round trip), a large one with its messages COPYed."""
    if conn.dialect.name == "postgresql" and len(rows) < AT_ONCE_UP_TO:
        bulk.insert_with(conn, batches, batch, messages, rows)
        return
    insert_batch(conn, batch)
    insert_messages(conn, rows)


# Sends with fewer messages go in one statement with their batch; larger
# ones COPY their messages.
AT_ONCE_UP_TO = bulk.COPY_FROM

_UNCHANGED_AND_UNBLOCKED = (
    "EXISTS (SELECT 1 FROM accounts a WHERE a.account_id = :c_account "
    "AND a.version = :c_version) AND NOT EXISTS (SELECT 1 FROM blocked_numbers b "
    "WHERE b.account_id = :c_account "
    "AND b.number = ANY(CAST(:c_numbers AS varchar[])))"
)


def insert_send_if_current(
    conn: Connection,
    version: int,
    batch: dict[str, Any],
    rows: list[dict[str, Any]],
) -> bool:
    """PostgreSQL: a batch and its messages in one statement, inserted only if
    the account is still at `version` and blocks none of the recipients.
    False when nothing was inserted for that reason. Run in autocommit, it is
    a whole send in one round trip."""
    return bulk.insert_with(
        conn,
        batches,
        batch,
        messages,
        rows,
        only_if=_UNCHANGED_AND_UNBLOCKED,
        condition_params={
            "c_account": batch["account_id"],
            "c_version": version,
            "c_numbers": [row["recipient"] for row in rows],
        },
    )


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


def messages_by_ids(
    conn: Connection, account_id: str, keys: Sequence[tuple[str, datetime]]
) -> list[Row[Any]]:
    """Messages of the account among (message_id, created_at) keys, any order.

    Both stores look each key up by the primary key (message_id, created_at):
    on PostgreSQL by joining the keys as arrays, so each probe touches only its
    own month's partition and the statement has two parameters, not 2,000; on
    SQLite by message_id alone (the account is checked here), because its
    planner otherwise walks an (account_id, created_at) index for every pair.
    """
    if not keys:
        return []
    if conn.dialect.name == "postgresql":
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
    wanted = set(keys)
    found: list[Row[Any]] = []
    for chunk in _chunks(sorted({k[0] for k in keys})):
        found.extend(
            row
            for row in conn.execute(
                select(*_status_columns()).where(messages.c.message_id.in_(chunk))
            )
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
    return list(
        conn.execute(
            select(*_status_columns())
            .where(and_(*conditions))
            .order_by(messages.c.created_at.desc(), messages.c.message_id.desc())
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
                status="CANCELLED",
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
