"""`soapsms purge`: delete message data older than the retention period.

Short transactions only, so that SendMessage never waits long behind a purge:
on PostgreSQL whole monthly partitions are detached and dropped (each in its
own transaction, with a lock timeout), and what is left of the boundary month
(or sits in a default partition, or lives on SQLite) is deleted in batches of
`batch_size` rows, one BEGIN IMMEDIATE transaction each. The coming months'
partitions are created at the end.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from soapsms.domain.retention import parse_retention
from soapsms.errors import Unavailable, ValidationError
from soapsms.store import retention as q
from soapsms.store.db import transaction
from soapsms.store.partitions import ensure_months_ahead
from soapsms.usecases.runtime import Runtime

logger = logging.getLogger(__name__)

BATCH_SIZE = 2000
_DROP_ATTEMPTS = 3


@dataclass
class PurgeReport:
    """What went (or, on a dry run, would go)."""

    retention: str
    cutoff: datetime
    dry_run: bool
    dropped_partitions: list[str] = field(default_factory=list)
    rows: dict[str, int] = field(default_factory=dict)
    created_partitions: list[str] = field(default_factory=list)


def purge(
    rt: Runtime,
    older_than: str | None = None,
    *,
    dry_run: bool = False,
    batch_size: int = BATCH_SIZE,
    progress: Callable[[str], None] = lambda line: None,
    on_rows: Callable[[str, int, int | None], None] | None = None,
) -> PurgeReport:
    """Remove what is older than `older_than` (default: the configured
    retention); refuses a period under the legal minimum (ValidationError).

    `on_rows(table, rows done, rows in all or None)` follows the row deletes;
    given, the old messages are counted first (one indexed count)."""
    if batch_size < 1:
        raise ValidationError(f"batch size must be at least 1, got {batch_size}")
    retention = parse_retention(older_than or rt.settings.retention)
    now = rt.now()
    report = PurgeReport(str(retention), retention.cutoff(now), dry_run)
    cutoff = report.cutoff
    # long: a dry run counts whole years of rows, past store_timeout_seconds.
    with transaction(rt.engine, long=True) as conn:
        doomed = q.partitions_before(conn, cutoff)
        if dry_run:
            report.dropped_partitions = [name for _, name in doomed]
            for table in ("messages", "status_history", "message_parts", *q.ROW_TABLES):
                report.rows[table] = q.count_old(conn, table, cutoff)
            return report
    for parent, name in doomed:
        if _drop(rt, parent, name):
            report.dropped_partitions.append(name)
            progress(f"dropped partition {name}")
    total: int | None = None
    if on_rows is not None:
        with transaction(rt.engine) as conn:
            total = q.count_old(conn, "messages", cutoff)
    report.rows["messages"] = _in_batches(
        rt,
        batch_size,
        lambda conn: q.delete_messages(
            conn, q.old_message_keys(conn, cutoff, batch_size)
        ),
        _follow(on_rows, "messages", total),
    )
    progress(f"deleted {report.rows['messages']} messages outside dropped partitions")
    for table in q.ROW_TABLES:
        report.rows[table] = _in_batches(
            rt,
            batch_size,
            lambda conn, table=table: q.delete_old_rows(
                conn, table, cutoff, batch_size
            ),
            _follow(on_rows, table, None),
        )
        progress(f"deleted {report.rows[table]} rows of {table}")
    with transaction(rt.engine, write=True) as conn:
        report.created_partitions = ensure_months_ahead(conn, now)
    logger.info(
        "purge retention=%s cutoff=%s dropped=%s rows=%s",
        report.retention,
        cutoff.isoformat(),
        ",".join(report.dropped_partitions) or "-",
        ",".join(f"{k}:{v}" for k, v in report.rows.items()),
    )
    return report


def _drop(rt: Runtime, parent: str, name: str) -> bool:
    """Drop one partition; after a few lock timeouts leave it to the row path."""
    for attempt in range(1, _DROP_ATTEMPTS + 1):
        try:
            with transaction(rt.engine, write=True) as conn:
                q.drop_partition(conn, parent, name)
            return True
        except Unavailable:
            logger.warning(
                "partition %s busy (attempt %d of %d)", name, attempt, _DROP_ATTEMPTS
            )
            time.sleep(0.5 * attempt)
    return False


def _follow(
    on_rows: Callable[[str, int, int | None], None] | None,
    table: str,
    total: int | None,
) -> Callable[[int], None]:
    if on_rows is None:
        return lambda done: None
    return lambda done: on_rows(table, done, total)


def _in_batches(
    rt: Runtime,
    batch_size: int,
    step: Callable[..., int],
    after: Callable[[int], None] = lambda done: None,
) -> int:
    """Run `step` (one batch) in its own write transaction until a short batch;
    `after(rows so far)` after each."""
    total = 0
    while True:
        with transaction(rt.engine, write=True) as conn:
            done = step(conn)
        total += done
        after(total)
        if done < batch_size:
            return total
