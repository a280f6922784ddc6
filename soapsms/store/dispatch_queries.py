"""Queries of the dispatcher: claims, parts, receipts, inbound, outbox, heartbeats.

Like `repository`, every function takes an open Connection and holds no
business rule; `soapsms.usecases.dispatching` decides what they mean.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any, Protocol, TypeAlias, cast

from sqlalchemy import (
    Connection,
    Row,
    Select,
    Table,
    case,
    delete,
    exists,
    func,
    insert,
    or_,
    select,
    text,
    tuple_,
    update,
)

from soapsms.domain import status
from soapsms.store import bulk
from soapsms.store.models import (
    WAITING,
    WAITING_STATUSES,
    AccountPause,
    CallbackEvent,
    DispatcherBeat,
    InboundMessage,
    Message,
    MessagePart,
    ReceiptRecord,
)

messages = cast(Table, Message.__table__)
parts = cast(Table, MessagePart.__table__)
receipts = cast(Table, ReceiptRecord.__table__)
inbound = cast(Table, InboundMessage.__table__)
outbox = cast(Table, CallbackEvent.__table__)
dispatchers = cast(Table, DispatcherBeat.__table__)


Key = tuple[str, datetime]  # (message_id, created_at)
# A row of these queries, read by column name (the dispatcher's hot paths
# read rows as they come; a record per row cost measurable time there).
Record: TypeAlias = Row[Any]
# A receipt waiting for its submission to be recorded.
UNMATCHED = "unmatched"
_KEY = (messages.c.message_id, messages.c.created_at)


def _free(now: datetime) -> Any:
    return or_(messages.c.lease_until.is_(None), messages.c.lease_until < now)


class RowLocks(Protocol):
    """How a database locks the rows a query reads (the store, per database)."""

    def skip_locked(self, query: Select[Any]) -> Select[Any]:
        """`query` locking its rows, passing over those locked by others."""

    def for_update(self, query: Select[Any]) -> Select[Any]:
        """`query` locking its rows until the transaction ends."""


# --- claims ------------------------------------------------------------------


def due_messages(
    conn: Connection, locks: RowLocks, now: datetime, limit: int
) -> list[Row[Any]]:
    """Keys and statuses of due, unleased, still valid messages, oldest due first."""
    query = (
        select(messages.c.message_id, messages.c.created_at, messages.c.status)
        .where(
            text(WAITING),
            messages.c.due_at <= now,
            messages.c.expires_at > now,
            _free(now),
            # An operator paused the account: its messages wait (docs/console.md).
            messages.c.account_id.not_in(select(AccountPause.account_id)),
        )
        .order_by(messages.c.due_at)
        .limit(limit)
    )
    return list(conn.execute(locks.skip_locked(query)))


def lease_messages(
    conn: Connection, keys: Sequence[Key], owner: str, until: datetime, now: datetime
) -> list[Row[Any]]:
    """Lease `keys` to `owner` (SCHEDULED ones become QUEUED); the full rows."""
    leased: list[Row[Any]] = []
    for where in bulk.pairs_in(conn, _KEY, keys):
        leased.extend(
            conn.execute(
                update(messages)
                .where(where)
                .values(
                    status=status.QUEUED,
                    lease_owner=owner,
                    lease_until=until,
                    attempts=messages.c.attempts + 1,
                    updated_at=case(
                        (messages.c.status == status.SCHEDULED, now),
                        else_=messages.c.updated_at,
                    ),
                )
                .returning(*messages.c)
            )
        )
    return leased


def renew_leases(
    conn: Connection, locks: RowLocks, keys: Sequence[Key], owner: str, until: datetime
) -> None:
    key = tuple_(*_KEY)
    for where in bulk.pairs_in(conn, _KEY, keys):
        # Rows locked right now are being recorded, which ends their lease
        # anyway; waiting for them would deadlock with the recorder.
        mine = locks.skip_locked(
            select(*_KEY).where(where, messages.c.lease_owner == owner)
        )
        conn.execute(update(messages).where(key.in_(mine)).values(lease_until=until))


def overdue_messages(
    conn: Connection, locks: RowLocks, now: datetime, limit: int
) -> list[Key]:
    """Waiting messages whose validity ended, not leased by a live dispatcher."""
    query = (
        select(messages.c.message_id, messages.c.created_at)
        .where(
            text(WAITING),
            messages.c.expires_at <= now,
            _free(now),
        )
        .limit(limit)
    )
    return [
        (r.message_id, r.created_at) for r in conn.execute(locks.skip_locked(query))
    ]


def move_message(
    conn: Connection,
    key: Key,
    from_statuses: Iterable[str],
    values: dict[str, Any],
) -> Row[Any] | None:
    """Change one message if it is still in one of `from_statuses`; the new row."""
    return conn.execute(
        update(messages)
        .where(
            messages.c.message_id == key[0],
            messages.c.created_at == key[1],
            messages.c.status.in_(list(from_statuses)),
        )
        .values(**values)
        .returning(*messages.c)
    ).first()


def release_untried(conn: Connection, key: Key, due_at: datetime) -> None:
    """Give back a QUEUED message no connector was up to try: due at
    `due_at`, unleased, and its lease not counted as an attempt."""
    conn.execute(
        update(messages)
        .where(
            messages.c.message_id == key[0],
            messages.c.created_at == key[1],
            messages.c.status == status.QUEUED,
        )
        .values(
            due_at=due_at,
            lease_owner=None,
            lease_until=None,
            attempts=messages.c.attempts - 1,
        )
    )


def move_messages(
    conn: Connection,
    keys: Sequence[Key],
    from_statuses: Iterable[str],
    values: dict[str, Any],
) -> list[Row[Any]]:
    """`move_message` for many keys sharing the same new values, in bulk."""
    moved: list[Row[Any]] = []
    statuses = list(from_statuses)
    for where in bulk.pairs_in(conn, _KEY, keys):
        moved.extend(
            conn.execute(
                update(messages)
                .where(where, messages.c.status.in_(statuses))
                .values(**values)
                .returning(*messages.c)
            )
        )
    return moved


def messages_by_keys(
    conn: Connection, keys: Sequence[Key], *, lock: RowLocks | None = None
) -> dict[Key, Row[Any]]:
    """Messages by key; with `lock`, locked in key order."""
    found: dict[Key, Row[Any]] = {}
    for where in bulk.pairs_in(conn, _KEY, keys):
        query = (
            select(messages)
            .where(where)
            .order_by(messages.c.message_id, messages.c.created_at)
        )
        if lock is not None:
            query = lock.for_update(query)
        for row in conn.execute(query):
            found[(row.message_id, row.created_at)] = row
    return found


def get_message(
    conn: Connection, key: Key, *, lock: RowLocks | None = None
) -> Row[Any] | None:
    query = select(messages).where(
        messages.c.message_id == key[0], messages.c.created_at == key[1]
    )
    if lock is not None:
        query = lock.for_update(query)
    return conn.execute(query).first()


# --- parts -------------------------------------------------------------------


def insert_parts(conn: Connection, rows: list[dict[str, Any]]) -> None:
    bulk.insert_rows(conn, parts, rows)


def find_parts(
    conn: Connection, connector: str, carrier_ids: Sequence[str]
) -> dict[str, Row[Any]]:
    """The parts these carrier ids name; the latest, should a carrier reuse ids."""
    found: dict[str, Row[Any]] = {}
    for where in bulk.values_in(conn, parts.c.carrier_id, carrier_ids):
        rows = conn.execute(
            select(parts)
            .where(parts.c.connector == connector, where)
            .order_by(parts.c.submitted_at)
        )
        for row in rows:
            found[row.carrier_id] = row  # the latest wins
    return found


def _parts_by_message(
    conn: Connection, keys: Sequence[Key], *columns: Any
) -> dict[Key, list[Row[Any]]]:
    """The `columns` (and part_no) of each message's parts, by message."""
    found: dict[Key, list[Row[Any]]] = {}
    for where in bulk.pairs_in(
        conn, (parts.c.message_id, parts.c.message_created_at), keys
    ):
        rows = conn.execute(
            select(
                parts.c.message_id,
                parts.c.message_created_at,
                parts.c.part_no,
                *columns,
            ).where(where)
        )
        for row in rows:
            key = (row.message_id, row.message_created_at)
            found.setdefault(key, []).append(row)
    return found


def parts_of(conn: Connection, keys: Sequence[Key]) -> dict[Key, dict[int, str]]:
    """Each message's part statuses by part number."""
    return {
        key: {row.part_no: row.status for row in rows}
        for key, rows in _parts_by_message(conn, keys, parts.c.status).items()
    }


def accepted_parts(conn: Connection, keys: Sequence[Key]) -> dict[Key, list[Row[Any]]]:
    """The parts carriers accepted so far of each message: part_no, connector,
    carrier_id."""
    return _parts_by_message(conn, keys, parts.c.connector, parts.c.carrier_id)


def update_parts(conn: Connection, rows: list[dict[str, Any]]) -> None:
    """Receipts' outcomes on parts: dicts of message_id, message_created_at,
    part_no, status, stat, err, done_at."""
    bulk.update_rows(conn, parts, ("message_id", "message_created_at", "part_no"), rows)


# What applying receipts changes on a message.
RECEIPT_COLUMNS = (
    "status",
    "parts_delivered",
    "error_code",
    "carrier_error",
    "error_text",
    "done_at",
    "updated_at",
)


def update_receipt_columns(
    conn: Connection, rows: Sequence[tuple[Key, dict[str, Any]]]
) -> None:
    """Write the RECEIPT_COLUMNS of many (locked) messages at once."""
    bulk.update_rows(
        conn,
        messages,
        ("message_id", "created_at"),
        [
            {"message_id": key[0], "created_at": key[1]}
            | {name: values[name] for name in RECEIPT_COLUMNS}
            for key, values in rows
        ],
    )


# --- receipts ----------------------------------------------------------------


def receipts_inserted(rows: Any) -> dict[Any, int]:
    """Receipt ids by (connector, carrier id, stat) of inserted `rows`."""
    return {(r.connector, r.carrier_id, r.stat): r.id for r in rows}


def unmatched_since(
    conn: Connection, since: datetime, limit: int
) -> dict[str, list[str]]:
    """Carrier ids of up to `limit` receipts still unmatched that came after
    `since`, by connector."""
    found: dict[str, list[str]] = {}
    rows = conn.execute(
        select(receipts.c.connector, receipts.c.carrier_id)
        .where(receipts.c.outcome == UNMATCHED, receipts.c.received_at >= since)
        .limit(limit)
    )
    for connector, carrier_id in rows:
        found.setdefault(connector, []).append(carrier_id)
    return found


def set_receipt_outcomes(conn: Connection, rows: list[dict[str, Any]]) -> None:
    """Outcomes of many receipts: dicts of id, outcome, message_id,
    message_created_at and part_no."""
    bulk.update_rows(conn, receipts, ("id",), rows)


def unmatched_receipts(
    conn: Connection, connector: str, carrier_ids: Sequence[str]
) -> list[Row[Any]]:
    """Receipts that came before their submission was recorded, oldest first."""
    found: list[Row[Any]] = []
    for where in bulk.values_in(conn, receipts.c.carrier_id, carrier_ids):
        found.extend(
            conn.execute(
                select(receipts).where(
                    receipts.c.connector == connector,
                    where,
                    receipts.c.outcome == UNMATCHED,
                )
            )
        )
    found.sort(key=lambda r: r.id)
    return found


def add_inbound(conn: Connection, rows: list[dict[str, Any]]) -> None:
    if rows:
        conn.execute(insert(inbound), rows)


# --- callback outbox ---------------------------------------------------------


def add_callbacks(conn: Connection, rows: list[dict[str, Any]]) -> None:
    bulk.insert_rows(conn, outbox, rows)


def lease_callbacks(
    conn: Connection,
    locks: RowLocks,
    owner: str,
    now: datetime,
    until: datetime,
    limit: int,
    per_account: int | None = None,
) -> list[Row[Any]]:
    """Lease due events, earliest first, at most `per_account` of one account
    (so one account's backlog cannot hold up the others'); each lease counts
    as an attempt, so a crash mid-send cannot make an event retry for ever."""
    earlier = outbox.alias("earlier")
    scan = limit if per_account is None else limit * 10
    query = (
        select(outbox.c.event_id, outbox.c.account_id)
        .where(
            outbox.c.state == "pending",
            outbox.c.next_attempt_at <= now,
            or_(outbox.c.lease_until.is_(None), outbox.c.lease_until < now),
            # A message's events go out in order: none overtakes a pending one.
            ~exists().where(
                earlier.c.message_id == outbox.c.message_id,
                earlier.c.state == "pending",
                earlier.c.event_id < outbox.c.event_id,
            ),
        )
        .order_by(outbox.c.next_attempt_at)
        .limit(scan)
    )
    ids: list[str] = []
    taken: dict[str, int] = {}
    for event_id, account_id in conn.execute(locks.skip_locked(query)):
        if per_account is not None and taken.get(account_id, 0) >= per_account:
            continue
        taken[account_id] = taken.get(account_id, 0) + 1
        ids.append(event_id)
        if len(ids) >= limit:
            break
    if not ids:
        return []
    return list(
        conn.execute(
            update(outbox)
            .where(outbox.c.event_id.in_(ids))
            .values(
                lease_owner=owner, lease_until=until, attempts=outbox.c.attempts + 1
            )
            .returning(*outbox.c)
        )
    )


def delete_callbacks(conn: Connection, event_ids: Sequence[str]) -> None:
    for where in bulk.values_in(conn, outbox.c.event_id, event_ids):
        conn.execute(delete(outbox).where(where))


def update_callback(conn: Connection, event_id: str, values: dict[str, Any]) -> None:
    conn.execute(update(outbox).where(outbox.c.event_id == event_id).values(**values))


def count_callbacks(conn: Connection, state: str) -> int:
    return int(
        conn.scalar(
            select(func.count()).select_from(outbox).where(outbox.c.state == state)
        )
        or 0
    )


# --- dispatchers -------------------------------------------------------------


def live_dispatchers(conn: Connection, since: datetime) -> list[Row[Any]]:
    return list(
        conn.execute(select(dispatchers).where(dispatchers.c.heartbeat_at >= since))
    )


def forget_dispatchers_before(conn: Connection, before: datetime) -> None:
    conn.execute(delete(dispatchers).where(dispatchers.c.heartbeat_at < before))


def add_dispatcher(conn: Connection, values: dict[str, Any]) -> None:
    conn.execute(insert(dispatchers).values(**values))


def beat(conn: Connection, dispatcher_id: str, now: datetime) -> bool:
    result = conn.execute(
        update(dispatchers)
        .where(dispatchers.c.dispatcher_id == dispatcher_id)
        .values(heartbeat_at=now)
    )
    return result.rowcount == 1


def remove_dispatcher(conn: Connection, dispatcher_id: str) -> None:
    conn.execute(
        delete(dispatchers).where(dispatchers.c.dispatcher_id == dispatcher_id)
    )


def release_leases(conn: Connection, owners: Sequence[str]) -> int:
    """Free the messages and callbacks leased to `owners` (dead dispatchers),
    claimable at once; how many messages."""
    if not owners:
        return 0
    freed = conn.execute(
        update(messages)
        .where(
            messages.c.status.in_(WAITING_STATUSES),
            messages.c.lease_owner.in_(list(owners)),
        )
        .values(lease_owner=None, lease_until=None)
    ).rowcount
    conn.execute(
        update(outbox)
        .where(outbox.c.lease_owner.in_(list(owners)))
        .values(lease_owner=None, lease_until=None)
    )
    return int(freed or 0)


def lease_owners(conn: Connection) -> list[str]:
    """Who holds leases on waiting messages (rows of the partial due index)."""
    return list(
        conn.scalars(
            select(messages.c.lease_owner)
            .where(
                messages.c.status.in_(WAITING_STATUSES),
                messages.c.lease_owner.is_not(None),
            )
            .distinct()
        )
    )
