"""Dispatching: claim due messages, record the carriers' answers, expire, register.

Each function is one transaction. The dispatcher (soapsms.dispatch.worker)
calls them; carriers' codes arrive here already mapped to the contract's
reason codes, with the raw code as `carrier_error`.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from soapsms.domain import encoding, status
from soapsms.errors import ConfigError, SoapsmsError
from soapsms.store import dispatch_queries as q
from soapsms.store.db import transaction
from soapsms.store.migrate import current_revision, head_revision
from soapsms.store.partitions import ensure_partitions
from soapsms.usecases.dispatching_events import Changes
from soapsms.usecases.runtime import Runtime

logger = logging.getLogger(__name__)

# The contract's retry schedule for submission errors.
FIRST_RETRY = timedelta(seconds=10)
LONGEST_RETRY = timedelta(minutes=10)
# When no connector of a route is up nothing was attempted: look again soon.
NO_CONNECTOR_WAIT = timedelta(seconds=5)

# What a submission came to (Outcome.kind).
ACCEPTED = "accepted"  # every part accepted: SUBMITTED
REJECTED = "rejected"  # refused for good: REJECTED
RETRY = "retry"  # temporary error: QUEUED again after a back-off, or EXPIRED
FAILED = "failed"  # no route left: FAILED
NOT_TRIED = "not_tried"  # no connector was up; not an attempt


class AnotherDispatcher(SoapsmsError):
    """A dispatcher already runs on this SQLite store."""


@dataclass(frozen=True)
class Claimed:
    """A message leased to this dispatcher, ready to hand to a connector."""

    message_id: str
    created_at: datetime
    account_id: str
    recipient: str
    sender: str | None
    encoding: str
    segments: tuple[str, ...]
    expires_at: datetime
    attempts: int

    @property
    def key(self) -> q.Key:
        return (self.message_id, self.created_at)


@dataclass(frozen=True)
class Outcome:
    """What became of one claimed message's submission."""

    message_id: str
    created_at: datetime
    kind: str
    connector: str | None = None
    carrier_ids: tuple[str, ...] = ()
    error_code: str | None = None
    carrier_error: str | None = None
    error_text: str | None = None


def retry_delay(attempts: int) -> timedelta:
    """Back-off after the `attempts`-th failed submission: 10 s doubling to 10 min."""
    return min(FIRST_RETRY * (1 << min(max(attempts - 1, 0), 16)), LONGEST_RETRY)


def claim_batch(rt: Runtime, owner: str, limit: int, lease: timedelta) -> list[Claimed]:
    """Lease up to `limit` due messages; SCHEDULED ones become QUEUED."""
    now = rt.now()
    with transaction(rt.engine, write=True) as conn:
        due = q.due_messages(conn, now, limit)
        if not due:
            return []
        scheduled = {r.message_id for r in due if r.status == status.SCHEDULED}
        rows = q.lease_messages(
            conn, [(r.message_id, r.created_at) for r in due], owner, now + lease, now
        )
        changes = Changes(now)
        for row in rows:
            if row.message_id in scheduled:
                changes.note(
                    row, "due: scheduled time reached", previous=status.SCHEDULED
                )
        changes.flush(conn)
    claimed = []
    for row in rows:
        plan = encoding.plan(row.text, row.encoding, max_parts=row.parts)
        claimed.append(
            Claimed(
                message_id=row.message_id,
                created_at=row.created_at,
                account_id=row.account_id,
                recipient=row.recipient,
                sender=row.sender,
                encoding=plan.encoding,
                segments=plan.segments,
                expires_at=row.expires_at,
                attempts=row.attempts,
            )
        )
    return claimed


def renew_leases(
    rt: Runtime, owner: str, keys: Sequence[q.Key], lease: timedelta
) -> None:
    """Keep in-flight messages leased while their submissions are outstanding."""
    if keys:
        with transaction(rt.engine, write=True) as conn:
            q.renew_leases(conn, keys, owner, rt.now() + lease)


def _short(value: str | None, size: int) -> str | None:
    return value[:size] if value else value


def record_submissions(
    rt: Runtime, outcomes: Sequence[Outcome]
) -> dict[str, list[str]]:
    """Record what the carriers answered, in one transaction; the carrier ids
    recorded, by connector. Receipts that overtook these submissions are not
    matched here, to keep this path short: `match_recorded` does it next."""
    if not outcomes:
        return {}
    now = rt.now()
    with transaction(rt.engine, write=True) as conn:
        changes = Changes(now)
        accepted = _submitted(
            conn, changes, [o for o in outcomes if o.kind == ACCEPTED], now
        )
        for outcome in outcomes:
            key = (outcome.message_id, outcome.created_at)
            if outcome.kind == ACCEPTED:
                continue
            elif outcome.kind in (REJECTED, FAILED):
                _refused(conn, changes, key, outcome, now)
            elif outcome.kind == RETRY:
                _retry(conn, changes, key, outcome, now)
            elif outcome.kind == NOT_TRIED:
                q.move_message(
                    conn,
                    key,
                    [status.QUEUED],
                    {
                        "due_at": now + NO_CONNECTOR_WAIT,
                        "lease_owner": None,
                        "lease_until": None,
                        "attempts": q.messages.c.attempts - 1,
                    },
                )
            else:  # pragma: no cover - the worker makes only these kinds
                raise ValueError(outcome.kind)
        changes.flush(conn)
    return accepted


def _submitted(
    conn: Any, changes: Changes, outcomes: list[Outcome], now: datetime
) -> dict[str, list[str]]:
    """SUBMITTED and their parts, in bulk (the common case); the carrier ids
    recorded, by connector."""
    if not outcomes:
        return {}
    rows = q.move_messages(
        conn,
        [(o.message_id, o.created_at) for o in outcomes],
        [status.QUEUED],
        {
            "status": status.SUBMITTED,
            "submitted_at": now,
            "updated_at": now,
            "lease_owner": None,
            "lease_until": None,
            "error_code": None,
            "error_text": None,
            "carrier_error": None,
        },
    )
    moved = {(r.message_id, r.created_at): r for r in rows}
    parts: list[dict[str, Any]] = []
    recorded: dict[str, list[str]] = {}
    for outcome in outcomes:
        key = (outcome.message_id, outcome.created_at)
        row = moved.get(key)
        if row is None:
            # Only a lease lost to a stall longer than the lease can get here.
            logger.warning(
                "message %s was accepted by %s but is no longer QUEUED here",
                key[0],
                outcome.connector,
            )
            continue
        parts.extend(
            {
                "message_id": key[0],
                "message_created_at": key[1],
                "part_no": number,
                "connector": outcome.connector,
                "carrier_id": carrier_id,
                "status": status.SUBMITTED,
                "submitted_at": now,
            }
            for number, carrier_id in enumerate(outcome.carrier_ids, start=1)
        )
        recorded.setdefault(outcome.connector or "", []).extend(outcome.carrier_ids)
        changes.note(
            row,
            f"via {outcome.connector}: carrier id {', '.join(outcome.carrier_ids)}",
            previous=status.QUEUED,
        )
    q.insert_parts(conn, parts)
    return recorded


def _refused(
    conn: Any, changes: Changes, key: q.Key, outcome: Outcome, now: datetime
) -> None:
    final = status.REJECTED if outcome.kind == REJECTED else status.FAILED
    row = q.move_message(
        conn,
        key,
        [status.QUEUED],
        {
            "status": final,
            "error_code": outcome.error_code
            or (
                status.CARRIER_REJECTED if final == status.REJECTED else status.UNKNOWN
            ),
            "carrier_error": _short(outcome.carrier_error, 100),
            "error_text": _short(outcome.error_text, 500),
            "done_at": now,
            "updated_at": now,
            "lease_owner": None,
            "lease_until": None,
        },
    )
    if row is not None:
        changes.note(
            row,
            f"via {outcome.connector}" if outcome.connector else None,
            previous=status.QUEUED,
        )
        changes.refund_if_unsent(row)


def _retry(
    conn: Any, changes: Changes, key: q.Key, outcome: Outcome, now: datetime
) -> None:
    current = q.get_message(conn, key)
    if current is None or current.status != status.QUEUED:
        return
    delay = retry_delay(current.attempts)
    carrier_error = _short(outcome.carrier_error or outcome.error_code, 100)
    if now + delay < current.expires_at:
        row = q.move_message(
            conn,
            key,
            [status.QUEUED],
            {
                "due_at": now + delay,
                "lease_owner": None,
                "lease_until": None,
                "carrier_error": carrier_error,
                "error_text": _short(outcome.error_text, 500),
            },
        )
        if row is not None:
            changes.note(
                row,
                f"attempt {current.attempts} via {outcome.connector}: "
                f"{outcome.error_code or 'error'}; next in {delay.total_seconds():g} s",
                changed=False,
            )
        return
    row = q.move_message(
        conn,
        key,
        [status.QUEUED],
        {
            "status": status.EXPIRED,
            "error_code": status.VALIDITY_EXPIRED,
            "carrier_error": carrier_error,
            "error_text": "validity ended before a submission succeeded",
            "done_at": now,
            "updated_at": now,
            "lease_owner": None,
            "lease_until": None,
        },
    )
    if row is not None:
        changes.note(
            row,
            f"retries ended by validity after {current.attempts}",
            previous=status.QUEUED,
        )
        changes.refund_if_unsent(row)


def expire_overdue(rt: Runtime, limit: int = 500) -> int:
    """EXPIRED for waiting messages whose validity passed; how many."""
    now = rt.now()
    with transaction(rt.engine, write=True) as conn:
        keys = q.overdue_messages(conn, now, limit)
        changes = Changes(now)
        for key in keys:
            row = q.move_message(
                conn,
                key,
                [status.SCHEDULED, status.QUEUED],
                {
                    "status": status.EXPIRED,
                    "error_code": status.VALIDITY_EXPIRED,
                    "error_text": "validity ended before submission",
                    "done_at": now,
                    "updated_at": now,
                    "lease_owner": None,
                    "lease_until": None,
                },
            )
            if row is not None:
                changes.note(row)
                changes.refund_if_unsent(row)
        changes.flush(conn)
    if keys:
        logger.info("expired %d messages whose validity passed", len(keys))
    return len(keys)


# --- the dispatcher's own row --------------------------------------------------


def register_dispatcher(
    rt: Runtime,
    dispatcher_id: str,
    host: str,
    pid: int,
    stale_after: timedelta,
    *,
    exclusive: bool,
) -> None:
    """Announce a dispatcher; with `exclusive` (SQLite) refuse while another lives."""
    now = rt.now()
    with transaction(rt.engine, write=True) as conn:
        q.forget_dispatchers_before(conn, now - stale_after)
        others = q.live_dispatchers(conn, now - stale_after)
        if exclusive and others:
            other = others[0]
            raise AnotherDispatcher(
                f"another dispatcher ({other.dispatcher_id} on {other.host}, pid "
                f"{other.pid}) is running on this SQLite store; only one may. Stop "
                f"it, or wait {stale_after.total_seconds():g} s after it died"
            )
        q.add_dispatcher(
            conn,
            {
                "dispatcher_id": dispatcher_id,
                "host": host[:255],
                "pid": pid,
                "started_at": now,
                "heartbeat_at": now,
            },
        )
        # Months ahead for the partitioned tables, as a long-running node needs.
        ensure_partitions(conn, now)
        ensure_partitions(conn, now, tables=q.PARTS_PARTITIONED)


def heartbeat(rt: Runtime, dispatcher_id: str) -> bool:
    """Refresh the dispatcher's row; False when it was taken for dead meanwhile."""
    with transaction(rt.engine, write=True) as conn:
        return q.beat(conn, dispatcher_id, rt.now())


def unregister_dispatcher(rt: Runtime, dispatcher_id: str) -> None:
    with transaction(rt.engine, write=True) as conn:
        q.remove_dispatcher(conn, dispatcher_id)


def check_schema(rt: Runtime) -> None:
    """Refuse to dispatch on a store whose schema is behind this code."""
    current = current_revision(rt.engine)
    if current != head_revision():
        raise ConfigError(
            f"the store's schema is at {current or 'nothing'}, not "
            f"{head_revision()}; run `soapsms db upgrade` first"
        )
