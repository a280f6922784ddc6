"""Seed a fresh store: accounts through the use case, history by bulk SQL.

Rows look like a gateway's past months: ULIDs from soapsms.domain.ids, batches
of realistic sizes spread over MONTHS months (so PostgreSQL's monthly
partitions each get their share), a few accounts, final statuses with their
error codes. Rows are written in arrival order, as the gateway would have.
"""

from __future__ import annotations

import random
import sqlite3
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta

import psycopg
from sqlalchemy.engine import make_url

from soapsms.config import Settings
from soapsms.domain import encoding
from soapsms.domain.ids import new_ids
from soapsms.store.db import transaction
from soapsms.store.migrate import upgrade
from soapsms.store.partitions import ensure_partitions
from soapsms.usecases.accounts import create_account
from soapsms.usecases.runtime import Runtime, utc_now

Row = tuple[object, ...]
Batch = tuple[Row, list[Row]]

MONTHS = 6
VALIDITY_MINUTES = 2880
# (account, share of the traffic); the bench account is the first.
ACCOUNTS = (("bench", 0.4), ("acme", 0.3), ("globex", 0.2), ("initech", 0.1))
MESSAGE_COLUMNS = (
    "message_id, created_at, batch_id, account_id, client_reference, recipient, "
    "sender, text, encoding, parts, status, error_code, error_text, carrier_error, "
    "parts_delivered, scheduled_for, due_at, expires_at, validity_minutes, "
    "submitted_at, done_at, updated_at, status_callback_url, charged, attempts, "
    "lease_owner, lease_until"
)
BATCH_COLUMNS = (
    "batch_id, account_id, client_reference, content_hash, accepted_count, "
    "rejected, created_at"
)
TEXTS = (
    "Server web01 is down (check_http: connection refused)",
    "INC{ref} assigned to you: disk /var on db02 at 95%",
    "Change CHG{ref} approved. Window starts 22:00 UTC; expect a short outage of "
    "the billing portal. On-call engineers, please confirm receipt by replying OK "
    "to this message before the window opens.",
    "Your verification code is {code}",
)
# (status, error_code, error_text, carrier_error, submitted, cumulative weight)
OUTCOMES = (
    ("DELIVERED", None, None, None, True, 0.86),
    (
        "UNDELIVERED",
        "ABSENT_SUBSCRIBER",
        "handset unreachable",
        "DLR err:027",
        True,
        0.90,
    ),
    ("FAILED", "NETWORK_ERROR", "carrier link down", None, False, 0.93),
    ("EXPIRED", "VALIDITY_EXPIRED", "validity period ended", None, False, 0.96),
    (
        "REJECTED",
        "CARRIER_REJECTED",
        "invalid destination",
        "ESME_RINVDSTADR",
        True,
        0.98,
    ),
    ("CANCELLED", None, None, None, False, 1.0),
)


@dataclass(frozen=True)
class Seeded:
    """What seeding made: how many messages, and the bench account's ids."""

    messages: int
    bench_ids: list[str]
    seconds: float


def _ts(value: datetime | None) -> str | None:
    """The text SQLAlchemy stores for a naive DateTime on SQLite."""
    return None if value is None else value.isoformat(" ", "microseconds")


def _sizes(count: int, rng: random.Random) -> list[int]:
    """Batch sizes adding up to `count`: mostly single alerts, a few broadcasts."""
    sizes: list[int] = []
    left = count
    while left > 0:
        r = rng.random()
        if r < 0.7:
            size = 1
        elif r < 0.9:
            size = rng.randint(2, 5)
        elif r < 0.99:
            size = rng.randint(6, 50)
        else:
            size = rng.randint(51, 500)
        size = min(size, left)
        sizes.append(size)
        left -= size
    return sizes


def _recipient(rng: random.Random) -> str:
    r = rng.random()
    if r < 0.7:
        return f"+1{rng.randint(201, 989)}{rng.randint(2000000, 9999999)}"
    if r < 0.85:
        return f"+447{rng.randint(100000000, 999999999)}"
    return f"+4915{rng.randint(100000000, 999999999)}"


def _outcome(
    rng: random.Random,
) -> tuple[str, str | None, str | None, str | None, bool]:
    r = rng.random()
    for status, code, text, carrier, submitted, bound in OUTCOMES:
        if r < bound:
            return status, code, text, carrier, submitted
    raise AssertionError("weights end at 1.0")


def _rows(
    count: int, now: datetime, rng: random.Random, bench_ids: list[str]
) -> Iterator[Batch]:
    """(batch row, message rows) in arrival order, `count` messages in all."""
    sizes = _sizes(count, rng)
    span = MONTHS * 30 * 86400.0
    ages = sorted((rng.uniform(60.0, span) for _ in sizes), reverse=True)
    names = [a for a, _ in ACCOUNTS]
    weights = [w for _, w in ACCOUNTS]
    accounts = rng.choices(names, weights, k=len(sizes))
    for number, (size, age, account) in enumerate(
        zip(sizes, ages, accounts, strict=True)
    ):
        created, ids = new_ids(size + 1, now - timedelta(seconds=age))
        batch_id, message_ids = ids[0], ids[1:]
        if account == "bench":
            bench_ids.extend(message_ids)
        reference = f"INC{number:09d}" if rng.random() < 0.3 else None
        text = rng.choice(TEXTS).format(
            ref=f"{number:07d}", code=rng.randint(100000, 999999)
        )
        plan = encoding.plan(text, "Auto", max_parts=10)
        parts = plan.parts
        sender = "ALERTS" if account != "globex" else None
        submitted = created + timedelta(seconds=rng.uniform(0.2, 3.0))
        done = submitted + timedelta(seconds=rng.uniform(2.0, 40.0))
        expires = created + timedelta(minutes=VALIDITY_MINUTES)
        c, s, d, e = _ts(created), _ts(submitted), _ts(done), _ts(expires)
        recent = age < 600  # the last minutes are still waiting for the carrier
        messages: list[Row] = []
        for message_id in message_ids:
            if recent:
                status, code, error, carrier, was_sent = (
                    "QUEUED",
                    None,
                    None,
                    None,
                    False,
                )
            else:
                status, code, error, carrier, was_sent = _outcome(rng)
            end = None if recent else (e if status == "EXPIRED" else d)
            messages.append(
                (message_id, c, batch_id, account, reference, _recipient(rng),
                 sender, text, plan.encoding, parts, status, code, error, carrier,
                 parts if status == "DELIVERED" else 0, None, c, e,
                 VALIDITY_MINUTES, s if was_sent else None, end, end or c, None,
                 0, 1 if was_sent else 0, None, None)
            )  # fmt: skip
        content_hash = f"{rng.getrandbits(256):064x}"
        yield (batch_id, account, reference, content_hash, size, "[]", c), messages


def _prepare_store(url: str, now: datetime) -> None:
    """Schema (with partitions for the seeded months) and the accounts."""
    runtime = Runtime(Settings(database_url=url, carrier="simulator"))
    try:
        upgrade(runtime.engine)
        with transaction(runtime.engine, write=True) as conn:
            ensure_partitions(conn, now, back=MONTHS + 1)
        for account, _ in ACCOUNTS:
            password = "bench-password-1" if account == "bench" else f"{account}-pw-9"
            create_account(runtime, account, password, f"{account} (bench)")
    finally:
        runtime.close()


def _write_sqlite(url: str, rows: Iterable[Batch]) -> None:
    path = make_url(url).database
    assert path is not None
    conn = sqlite3.connect(path, isolation_level=None)
    try:
        conn.execute("PRAGMA synchronous=OFF")  # seeding only; the server uses FULL
        conn.execute("PRAGMA cache_size=-1048576")  # 1 GiB: index pages stay hot
        marks = ", ".join("?" * len(MESSAGE_COLUMNS.split(",")))
        insert_message = f"INSERT INTO messages ({MESSAGE_COLUMNS}) VALUES ({marks})"
        insert_batch = f"INSERT INTO batches ({BATCH_COLUMNS}) VALUES (?,?,?,?,?,?,?)"
        batches: list[Row] = []
        messages: list[Row] = []
        conn.execute("BEGIN")
        for batch, batch_messages in rows:
            batches.append(batch)
            messages.extend(batch_messages)
            if len(messages) >= 50_000:
                conn.executemany(insert_batch, batches)
                conn.executemany(insert_message, messages)
                batches, messages = [], []
        conn.executemany(insert_batch, batches)
        conn.executemany(insert_message, messages)
        conn.execute("COMMIT")
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    finally:
        conn.close()


def _write_postgres(url: str, rows: Iterable[Batch]) -> None:
    held = list(rows)  # one COPY at a time on a connection: batches, then messages
    with psycopg.connect(url) as conn:
        with conn.cursor() as cur:
            with cur.copy(f"COPY batches ({BATCH_COLUMNS}) FROM STDIN") as copy:
                for batch, _ in held:
                    copy.write_row(batch)
            with cur.copy(f"COPY messages ({MESSAGE_COLUMNS}) FROM STDIN") as copy:
                for _, messages in held:
                    for message in messages:
                        copy.write_row(message)
        conn.commit()
        # What autovacuum would soon do after a bulk load: statistics, visibility.
        conn.autocommit = True
        conn.execute("VACUUM ANALYZE batches")
        conn.execute("VACUUM ANALYZE messages")
        # And the load's dirty pages written now, not by the checkpointer
        # while the first measurements run (at 10^6, ~0.5 GB): a store with
        # months of history has them on disk already.
        conn.execute("CHECKPOINT")


def seed(url: str, count: int, rng: random.Random) -> Seeded:
    """Create schema and accounts, then bulk-load `count` past messages."""
    started = time.perf_counter()
    now = utc_now()
    _prepare_store(url, now)
    bench_ids: list[str] = []
    rows = _rows(count, now, rng, bench_ids)
    if url.startswith("sqlite"):
        _write_sqlite(url, rows)
    else:
        _write_postgres(url, rows)
    return Seeded(count, bench_ids, time.perf_counter() - started)
