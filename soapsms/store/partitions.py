"""Monthly range partitions of `messages` and `status_history` on PostgreSQL.

Seven years of messages stay cheap to query and to purge when each month is
its own table: lookups by id touch one month, purge drops whole months.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from datetime import date, datetime

from sqlalchemy import Connection, text

logger = logging.getLogger(__name__)

PARTITIONED = {"messages": "created_at", "status_history": "message_created_at"}
# The partitioned tables migration 0002 added.
PARTS_PARTITIONED = {"message_parts": "message_created_at"}


def month_start(value: date | datetime, offset: int = 0) -> date:
    """The first day of the month `offset` months after `value`'s."""
    index = value.year * 12 + (value.month - 1) + offset
    return date(index // 12, index % 12 + 1, 1)


def partition_name(table: str, month: date) -> str:
    return f"{table}_{month:%Y_%m}"


def is_partitioned(conn: Connection) -> bool:
    """Whether this store partitions tables by month (PostgreSQL does)."""
    return conn.dialect.name == "postgresql"


def partitions_of(conn: Connection, parents: Iterable[str]) -> list[tuple[str, str]]:
    """(parent, partition) of each partition of `parents` in this schema."""
    if not is_partitioned(conn):
        return []
    rows = conn.execute(
        text(
            "SELECT p.relname, c.relname FROM pg_inherits i "
            "JOIN pg_class c ON c.oid = i.inhrelid "
            "JOIN pg_class p ON p.oid = i.inhparent "
            "WHERE p.relname = ANY(:parents) "
            "AND p.relnamespace = current_schema()::regnamespace"
        ),
        {"parents": list(parents)},
    )
    return [(parent, name) for parent, name in rows]


def ensure_partitions(
    conn: Connection,
    around: date | datetime,
    back: int = 1,
    ahead: int = 12,
    tables: Mapping[str, str] = PARTITIONED,
) -> list[str]:
    """Create the missing monthly partitions from `back` months before to `ahead` after.

    `tables` maps each partitioned table to its partition key (later
    migrations partition their own tables). Returns the names created. A
    no-op on other databases.
    """
    if not is_partitioned(conn):
        return []
    existing = {name for _, name in partitions_of(conn, tables)}
    created = []
    for offset in range(-back, ahead + 1):
        start, end = month_start(around, offset), month_start(around, offset + 1)
        for table in tables:
            name = partition_name(table, start)
            if name in existing:
                continue
            conn.execute(
                text(
                    f'CREATE TABLE "{name}" PARTITION OF "{table}" '
                    f"FOR VALUES FROM ('{start.isoformat()}') TO ('{end.isoformat()}')"
                )
            )
            created.append(name)
    if created:
        logger.info("created partitions: %s", ", ".join(created))
    return created


def ensure_months_ahead(conn: Connection, now: date | datetime) -> list[str]:
    """Every partitioned table's months around `now`, as a long-running node
    needs them; the names created."""
    return ensure_partitions(conn, now) + ensure_partitions(
        conn, now, tables=PARTS_PARTITIONED
    )
