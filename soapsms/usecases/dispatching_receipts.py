"""Delivery receipts and inbound messages: recorded idempotently, never backwards.

A receipt is stored first (a unique key on connector, carrier id and stat
makes a repeat a no-op), then applied to its part and its message by the
contract's receipt table. One that arrives before its submission is recorded
waits unmatched and is applied when the submission is.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, Row, select

from soapsms.domain import status
from soapsms.store import dispatch_queries as q
from soapsms.store.db import transaction
from soapsms.usecases.dispatching_events import Changes
from soapsms.usecases.runtime import Runtime

logger = logging.getLogger(__name__)

UNMATCHED = "unmatched"
APPLIED = "applied"
IGNORED = "ignored"

# stat -> (the part's final status, the ErrorCode when not delivered). Stats
# not listed (ACCEPTD, ENROUTE, UNKNOWN, anything else) are recorded only.
_FINAL: dict[str, tuple[str, str | None]] = {
    "DELIVRD": (status.DELIVERED, None),
    "UNDELIV": (status.UNDELIVERED, status.UNKNOWN),
    "REJECTD": (status.UNDELIVERED, status.CARRIER_REJECTED),
    "EXPIRED": (status.EXPIRED, status.VALIDITY_EXPIRED),
    "DELETED": (status.UNDELIVERED, status.UNKNOWN),
}


@dataclass(frozen=True)
class ReceiptIn:
    """A delivery receipt for one part, as a connector reported it."""

    connector: str
    carrier_id: str
    stat: str
    err: str | None = None
    # The contract's reason code where the route maps `err` (UNDELIV only).
    error_code: str | None = None
    done_at: datetime | None = None
    raw: str | None = None


@dataclass(frozen=True)
class InboundIn:
    """A mobile-originated message."""

    connector: str
    sender: str
    recipient: str
    text: str
    received_at: datetime
    extra: dict[str, str] = field(default_factory=dict)


def record_receipts(rt: Runtime, items: Sequence[ReceiptIn]) -> None:
    """Store and apply receipts, in arrival order, in one transaction."""
    if not items:
        return
    now = rt.now()
    with transaction(rt.engine, write=True) as conn:
        changes = Changes(now)
        for item in items:
            stat = item.stat.strip().upper()[:12]
            receipt_id = q.add_receipt(
                conn,
                {
                    "connector": item.connector,
                    "carrier_id": item.carrier_id,
                    "stat": stat,
                    "err": item.err[:32] if item.err else None,
                    "error_code": item.error_code,
                    "done_at": item.done_at,
                    "received_at": now,
                    "raw": item.raw[:500] if item.raw else None,
                    "outcome": UNMATCHED,
                },
            )
            if receipt_id is None:
                logger.info(
                    "duplicate receipt ignored: %s %s %s",
                    item.connector,
                    item.carrier_id,
                    stat,
                )
                continue
            part = q.find_part(conn, item.connector, item.carrier_id)
            if part is None:
                logger.info(
                    "receipt for unknown carrier id %s on %s kept until its "
                    "submission is recorded",
                    item.carrier_id,
                    item.connector,
                )
                continue
            _apply(conn, changes, receipt_id, stat, item.err, item.error_code, part)
        changes.flush(conn)


def match_waiting(
    conn: Connection, changes: Changes, connector: str, carrier_ids: Sequence[str]
) -> int:
    """Apply the receipts that arrived before these carrier ids were recorded."""
    waiting = q.unmatched_receipts(conn, connector, carrier_ids)
    for receipt in waiting:
        part = q.find_part(conn, receipt.connector, receipt.carrier_id)
        if part is not None:
            _apply(
                conn,
                changes,
                receipt.id,
                receipt.stat,
                receipt.err,
                receipt.error_code,
                part,
            )
    return len(waiting)


def rematch_recent(rt: Runtime, window: timedelta = timedelta(days=1)) -> int:
    """Match unmatched receipts of the last `window` whose parts now exist.

    A receipt and its submission recorded at the same moment by two
    PostgreSQL transactions do not see each other; this sweep joins them.
    """
    now = rt.now()
    with transaction(rt.engine, write=True) as conn:
        rows = list(
            conn.execute(
                select(q.receipts.c.connector, q.receipts.c.carrier_id)
                .where(
                    q.receipts.c.outcome == UNMATCHED,
                    q.receipts.c.received_at >= now - window,
                )
                .limit(1000)
            )
        )
        changes = Changes(now)
        matched = 0
        by_connector: dict[str, list[str]] = {}
        for row in rows:
            by_connector.setdefault(row.connector, []).append(row.carrier_id)
        for connector, carrier_ids in by_connector.items():
            before = len(changes.history)
            match_waiting(conn, changes, connector, carrier_ids)
            matched += len(changes.history) - before
        changes.flush(conn)
    return matched


def _apply(
    conn: Connection,
    changes: Changes,
    receipt_id: int,
    stat: str,
    err: str | None,
    error_code: str | None,
    part: Row[Any],
) -> None:
    key = (part.message_id, part.message_created_at)
    # The message row is locked first, so that receipts for two parts of one
    # message recorded at once by two dispatchers see each other's part.
    message = q.get_message(conn, key, lock=True)
    final = _FINAL.get(stat)
    if message is None or part.status != status.SUBMITTED:
        # A late or out-of-order receipt: the part already had its final one.
        q.set_receipt_outcome(conn, receipt_id, IGNORED, part)
        logger.info(
            "late receipt %s for %s part %d ignored (part is %s)",
            stat,
            part.message_id,
            part.part_no,
            part.status,
        )
        return
    q.set_receipt_outcome(conn, receipt_id, APPLIED, part)
    carrier_error = f"stat:{stat}" + (f" err:{err}" if err else "")
    detail = f"receipt for part {part.part_no}/{message.parts}: {carrier_error}"
    if final is None:
        if message.status not in status.TERMINAL:
            changes.note(message, detail, changed=False)
        return
    part_status, code = final
    q.update_part(
        conn,
        part,
        {"status": part_status, "stat": stat, "err": err, "done_at": changes.now},
    )
    states = q.part_states(conn, key)
    delivered = states.count(status.DELIVERED)
    values: dict[str, Any] = {"parts_delivered": delivered}
    new_status = None
    if part_status != status.DELIVERED:
        new_status = part_status
        values.update(
            error_code=error_code if stat == "UNDELIV" and error_code else code,
            carrier_error=carrier_error[:100],
            error_text=f"part {part.part_no} of {message.parts}: {stat}",
        )
    elif delivered == message.parts:
        new_status = status.DELIVERED
    if new_status is not None and status.can_move(message.status, new_status):
        values.update(status=new_status, done_at=changes.now, updated_at=changes.now)
        row = q.move_message(conn, key, [message.status], values)
        if row is not None:
            changes.note(row, detail)
        return
    # No status change (a part of several, or the message already ended):
    # only PartsDelivered moves.
    row = q.move_message(conn, key, [message.status], {"parts_delivered": delivered})
    if row is not None and message.status not in status.TERMINAL:
        changes.note(row, detail, changed=False)


def record_inbound(rt: Runtime, items: Sequence[InboundIn]) -> None:
    """Store mobile-originated messages; never dropped."""
    if not items:
        return
    with transaction(rt.engine, write=True) as conn:
        q.add_inbound(
            conn,
            [
                {
                    "connector": i.connector,
                    "sender": i.sender[:32],
                    "recipient": i.recipient[:32],
                    "text": i.text,
                    "received_at": i.received_at,
                    "extra": json.dumps(i.extra, separators=(",", ":")),
                }
                for i in items
            ],
        )
    logger.info("stored %d inbound messages", len(items))
