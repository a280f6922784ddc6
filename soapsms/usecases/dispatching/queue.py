"""Dispatching: claim due messages, record the carriers' answers, expire, register.

Each function is one transaction. The dispatcher (soapsms.dispatch.worker)
calls them; carriers' codes arrive here already mapped to the contract's
reason codes, with the raw code as `carrier_error`.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from types import MappingProxyType
from typing import Any

from soapsms.domain import encoding, status
from soapsms.errors import AnotherDispatcher, ConfigError
from soapsms.store import dispatch_queries as q
from soapsms.store.db import HeldLock as HeldLock  # re-exported: the worker keeps one
from soapsms.store.db import hold_lock_beside, transaction
from soapsms.store.dispatch_store import (
    Leased,
    MoveAll,
    MoveIfQueued,
    MoveOne,
    ReleaseUntried,
    Requeue,
    Submission,
)
from soapsms.store.migrate import current_revision, head_revision
from soapsms.store.partitions import ensure_months_ahead
from soapsms.usecases.dispatching.events import Changes
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


# Beside a SQLite database: held by its one dispatcher for its life.
DISPATCHER_LOCK = ".dispatcher-lock"


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
    # Parts an earlier attempt got accepted (number from 1 -> carrier id), by
    # `connector`: only the rest go now.
    done: Mapping[int, str] = field(default_factory=lambda: MappingProxyType({}))
    connector: str | None = None

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
    # (part number, carrier id) of the parts this attempt got accepted, also
    # when the message as a whole was not.
    parts: tuple[tuple[int, str], ...] = ()


def retry_delay(attempts: int) -> timedelta:
    """Back-off after the `attempts`-th failed submission: 10 s doubling to 10 min."""
    return min(FIRST_RETRY * (1 << min(max(attempts - 1, 0), 16)), LONGEST_RETRY)


def claim_batch(rt: Runtime, owner: str, limit: int, lease: timedelta) -> list[Claimed]:
    """Lease up to `limit` due messages; SCHEDULED ones become QUEUED."""
    now = rt.now()
    changes = Changes(now)

    def noted(leased: Leased) -> None:
        for row in leased.rows:
            if row.message_id in leased.scheduled:
                changes.note(
                    row, "due: scheduled time reached", previous=status.SCHEDULED
                )

    leased = rt.store.claim(owner, now, now + lease, limit, noted, changes)
    earlier = leased.accepted
    claimed = []
    for row in leased.rows:
        plan = encoding.plan(row.text, row.encoding, max_parts=row.parts)
        taken = earlier.get((row.message_id, row.created_at), [])
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
                done=MappingProxyType({p.part_no: p.carrier_id for p in taken}),
                connector=taken[0].connector if taken else None,
            )
        )
    return claimed


def renew_leases(
    rt: Runtime, owner: str, keys: Sequence[q.Key], lease: timedelta
) -> None:
    """Keep in-flight messages leased while their submissions are outstanding."""
    rt.store.renew_leases(keys, owner, rt.now() + lease)


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
    changes = Changes(now)
    recorded: dict[str, list[str]] = {}
    accepted = [o for o in outcomes if o.kind == ACCEPTED]
    steps: list[Submission] = [_submitted(changes, accepted, recorded, now)]
    for outcome in outcomes:
        key = (outcome.message_id, outcome.created_at)
        if outcome.kind == ACCEPTED:
            continue
        elif outcome.kind in (REJECTED, FAILED):
            steps.append(_refused(changes, key, outcome, now))
        elif outcome.kind == RETRY:
            steps.append(MoveIfQueued(key, _retry(changes, key, outcome, now)))
        elif outcome.kind == NOT_TRIED:
            steps.append(ReleaseUntried(key, now + NO_CONNECTOR_WAIT))
        else:  # pragma: no cover - the worker makes only these kinds
            raise ValueError(outcome.kind)
    rt.store.record_submissions(steps, changes)
    return recorded


def _submitted(
    changes: Changes,
    outcomes: list[Outcome],
    recorded: dict[str, list[str]],
    now: datetime,
) -> MoveAll:
    """SUBMITTED and their parts, in bulk (the common case); the carrier ids
    recorded go to `recorded`, by connector."""

    def parts_of(rows: Sequence[Any]) -> list[dict[str, Any]]:
        moved = {(r.message_id, r.created_at): r for r in rows}
        parts: list[dict[str, Any]] = []
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
                _part_rows(
                    key,
                    outcome,
                    outcome.parts or tuple(enumerate(outcome.carrier_ids, start=1)),
                    now,
                )
            )
            recorded.setdefault(outcome.connector or "", []).extend(outcome.carrier_ids)
            changes.note(
                row,
                f"via {outcome.connector}: carrier id {', '.join(outcome.carrier_ids)}",
                previous=status.QUEUED,
            )
        return parts

    return MoveAll(
        [(o.message_id, o.created_at) for o in outcomes],
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
        parts_of,
    )


def _part_rows(
    key: q.Key,
    outcome: Outcome,
    numbered: Sequence[tuple[int, str]],
    now: datetime,
) -> list[dict[str, Any]]:
    return [
        {
            "message_id": key[0],
            "message_created_at": key[1],
            "part_no": number,
            "connector": outcome.connector,
            "carrier_id": carrier_id,
            "status": status.SUBMITTED,
            "submitted_at": now,
        }
        for number, carrier_id in numbered
    ]


def _accepted_parts(
    changes: Changes, row: Any, outcome: Outcome, now: datetime
) -> list[dict[str, Any]]:
    """The parts a failed attempt did get accepted: recorded, so that the
    carrier's receipts for them match and a retry does not send them again."""
    if not outcome.parts:
        return []
    numbers = ", ".join(str(n) for n, _ in outcome.parts)
    changes.note(
        row,
        f"parts {numbers} of {row.parts} accepted via {outcome.connector}: "
        f"carrier id {', '.join(c for _, c in outcome.parts)}",
        changed=False,
    )
    return _part_rows((row.message_id, row.created_at), outcome, outcome.parts, now)


def _refused(changes: Changes, key: q.Key, outcome: Outcome, now: datetime) -> MoveOne:
    final = status.REJECTED if outcome.kind == REJECTED else status.FAILED

    def parts_of(rows: Sequence[Any]) -> list[dict[str, Any]]:
        (row,) = rows
        parts = _accepted_parts(changes, row, outcome, now)
        changes.note(
            row,
            f"via {outcome.connector}" if outcome.connector else None,
            previous=status.QUEUED,
        )
        changes.refund_if_unsent(row)
        return parts

    return MoveOne(
        key,
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
        parts_of,
    )


def _retry(
    changes: Changes, key: q.Key, outcome: Outcome, now: datetime
) -> Callable[[Any], MoveOne]:
    """The move for a temporary error, given the QUEUED message: due again
    after the back-off, or EXPIRED when that would pass its validity."""

    def decide(current: Any) -> MoveOne:
        delay = retry_delay(current.attempts)
        carrier_error = _short(outcome.carrier_error or outcome.error_code, 100)
        if now + delay < current.expires_at:

            def retried(rows: Sequence[Any]) -> list[dict[str, Any]]:
                (row,) = rows
                parts = _accepted_parts(changes, row, outcome, now)
                changes.note(
                    row,
                    f"attempt {current.attempts} via {outcome.connector}: "
                    f"{outcome.error_code or 'error'}; "
                    f"next in {delay.total_seconds():g} s",
                    changed=False,
                )
                return parts

            return MoveOne(
                key,
                {
                    "due_at": now + delay,
                    "lease_owner": None,
                    "lease_until": None,
                    "carrier_error": carrier_error,
                    "error_text": _short(outcome.error_text, 500),
                },
                retried,
            )

        def expired(rows: Sequence[Any]) -> list[dict[str, Any]]:
            (row,) = rows
            parts = _accepted_parts(changes, row, outcome, now)
            changes.note(
                row,
                f"retries ended by validity after {current.attempts}",
                previous=status.QUEUED,
            )
            changes.refund_if_unsent(row)
            return parts

        return MoveOne(
            key,
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
            expired,
        )

    return decide


def requeue(
    rt: Runtime, account_id: str, keys: Sequence[q.Key]
) -> list[tuple[str, str]]:
    """Make an account's QUEUED messages that wait out a retry back-off due now
    (support work, once a carrier is fixed); (MessageId, what was done) each.
    Leased ones are being sent already; other statuses are left as they are."""
    now = rt.now()
    changes = Changes(now)

    def decide(row: Any) -> Requeue:
        if row is None or row.account_id != account_id:
            return Requeue("no such message for this account")
        if row.status != status.QUEUED:
            return Requeue(f"{row.status}: only QUEUED messages wait")
        if row.lease_until is not None and row.lease_until > now:
            return Requeue("a dispatcher is sending it now")
        if row.due_at <= now:
            return Requeue("due already")
        return Requeue("due now", {"due_at": now})

    def moved(row: Any) -> None:
        changes.note(row, "requeued by an operator: due now", changed=False)

    answers = rt.store.requeue(keys, decide, moved, changes)
    return [(key[0], answer) for key, answer in zip(keys, answers, strict=True)]


def expire_overdue(rt: Runtime, limit: int = 500) -> int:
    """EXPIRED for waiting messages whose validity passed; how many."""
    now = rt.now()
    changes = Changes(now)

    def moved(row: Any) -> None:
        changes.note(row)
        changes.refund_if_unsent(row)

    count = rt.store.expire_overdue(
        now,
        limit,
        {
            "status": status.EXPIRED,
            "error_code": status.VALIDITY_EXPIRED,
            "error_text": "validity ended before submission",
            "done_at": now,
            "updated_at": now,
            "lease_owner": None,
            "lease_until": None,
        },
        moved,
        changes,
    )
    if count:
        logger.info("expired %d messages whose validity passed", count)
    return count


# --- the dispatcher's own row --------------------------------------------------


def register_dispatcher(
    rt: Runtime,
    dispatcher_id: str,
    host: str,
    pid: int,
    stale_after: timedelta,
    *,
    exclusive: bool,
) -> HeldLock | None:
    """Announce a dispatcher; with `exclusive` (SQLite) refuse while another lives.

    On SQLite the one dispatcher holds an flock beside the database for its
    life (returned: release it when done). Whoever gets it knows that every
    other dispatcher is dead, however young its heartbeat: their rows are
    forgotten and their leases freed, so their messages are claimable at once.
    """
    held = hold_lock_beside(rt.engine, DISPATCHER_LOCK) if exclusive else None
    if exclusive and held is None:
        raise AnotherDispatcher(
            "another dispatcher is running on this SQLite store (it holds "
            f"{rt.engine.url.database}{DISPATCHER_LOCK}); only one may. Stop it, "
            "or start this one with --wait"
        )
    try:
        _register(rt, dispatcher_id, host, pid, stale_after, takeover=exclusive)
    except BaseException:
        if held is not None:
            held.release()
        raise
    return held


def _register(
    rt: Runtime,
    dispatcher_id: str,
    host: str,
    pid: int,
    stale_after: timedelta,
    *,
    takeover: bool,
) -> None:
    now = rt.now()
    with transaction(rt.engine, write=True) as conn:
        q.forget_dispatchers_before(conn, now - stale_after)
        if takeover:
            dead = [
                r.dispatcher_id for r in q.live_dispatchers(conn, now - stale_after)
            ]
            for other in dead:
                q.remove_dispatcher(conn, other)
            owners = (set(dead) | set(q.lease_owners(conn))) - {dispatcher_id}
            freed = q.release_leases(conn, sorted(owners))
            if dead or freed:
                logger.warning(
                    "took over from dead dispatcher(s) %s: %d leased messages "
                    "are claimable again",
                    ", ".join(dead) or "-",
                    freed,
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
        ensure_months_ahead(conn, now)


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
