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
from types import SimpleNamespace
from typing import Any

from soapsms import metrics
from soapsms.domain import status
from soapsms.store import dispatch_queries as q
from soapsms.store.db import transaction
from soapsms.store.dispatch_store import Key
from soapsms.store.receipt_store import (
    PlanWaiting,
    ReceiptPlan,
    ReceiptState,
    ReceiptWrites,
)
from soapsms.usecases.dispatching.events import Changes
from soapsms.usecases.runtime import Runtime

logger = logging.getLogger(__name__)

# A receipt's outcome: waiting for its submission, applied, or ignored.
UNMATCHED = q.UNMATCHED
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


def record_receipts(
    rt: Runtime,
    items: Sequence[ReceiptIn],
    recorded: dict[str, list[str]] | None = None,
) -> None:
    """Store and apply receipts, in arrival order, in one transaction; and in
    it `match_recorded(recorded)`: one transaction where two were spent."""
    if not items:
        if recorded:
            match_recorded(rt, recorded)
        return
    now = rt.now()
    rows: dict[tuple[str, str, str], dict[str, Any]] = {}
    for item in items:
        stat = item.stat.strip().upper()[:12]
        key = (item.connector, item.carrier_id, stat)
        if key in rows:
            continue  # repeated within the batch
        rows[key] = {
            "connector": item.connector,
            "carrier_id": item.carrier_id,
            "stat": stat,
            "err": item.err[:32] if item.err else None,
            "error_code": item.error_code,
            "done_at": item.done_at,
            "received_at": now,
            "raw": item.raw[:500] if item.raw else None,
            "outcome": UNMATCHED,
        }
    changes = Changes(now)

    def plan(stored: dict[Any, int]) -> ReceiptPlan:
        for key in rows.keys() - stored.keys():
            logger.info("duplicate receipt ignored: %s %s %s", *key)
        return _Batch(changes).plan(
            [
                (
                    receipt_id,
                    rows[key]["stat"],
                    rows[key]["err"],
                    rows[key]["error_code"],
                )
                + key[:2]
                for key, receipt_id in sorted(stored.items(), key=lambda kv: kv[1])
            ]
        )

    waiting = (recorded, _waiting(changes)) if recorded else None
    rt.store.record_receipts(list(rows.values()), plan, changes, waiting)


def _waiting(changes: Changes) -> PlanWaiting:
    """How to apply receipts that arrived before their submission was recorded."""

    def plan(waiting: list[Any]) -> ReceiptPlan:
        return _Batch(changes).plan(
            [
                (r.id, r.stat, r.err, r.error_code, r.connector, r.carrier_id)
                for r in waiting
            ],
            quiet=True,
        )

    return plan


def match_recorded(rt: Runtime, recorded: dict[str, list[str]]) -> int:
    """Apply the receipts that overtook the submissions just recorded
    (`record_submissions`' answer), in arrival order; how many."""
    changes = Changes(rt.now())
    return rt.store.match_waiting(recorded, _waiting(changes), changes)


def rematch_recent(rt: Runtime, window: timedelta = timedelta(days=1)) -> int:
    """Match unmatched receipts of the last `window` whose parts now exist.

    A receipt and its submission recorded at the same moment by two
    PostgreSQL transactions do not see each other; this sweep joins them.
    """
    now = rt.now()
    changes = Changes(now)
    waiting = _waiting(changes)
    matched = 0

    def plan(found: list[Any]) -> ReceiptPlan:
        planned = waiting(found)

        def apply(state: ReceiptState) -> ReceiptWrites:
            nonlocal matched
            writes = planned.apply(state)
            matched = len(changes.history)  # before the flush empties it
            return writes

        return ReceiptPlan(planned.carrier_ids, apply)

    rt.store.rematch(now - window, 1000, plan, changes)
    return matched


# (receipt id, stat, err, error_code, connector, carrier id)
_Item = tuple[int, str, str | None, str | None, str, str]


class _Batch:
    """Applies many receipts with a few bulk reads (their parts, their
    messages locked in key order so that two dispatchers recording receipts
    of one message see each other's parts, the parts' states) and a few bulk
    writes (store/receipt_store.py): each receipt is worked out in memory,
    then every changed part and message is written once."""

    def __init__(self, changes: Changes) -> None:
        self.changes = changes
        self.messages: dict[Key, Any] = {}
        self.states: dict[Key, dict[int, str]] = {}
        self.part_updates: dict[tuple[Key, int], dict[str, Any]] = {}
        self.changed: set[Key] = set()

    def plan(self, items: list[_Item], *, quiet: bool = False) -> ReceiptPlan:
        by_connector: dict[str, list[str]] = {}
        for item in items:
            by_connector.setdefault(item[4], []).append(item[5])
        return ReceiptPlan(
            by_connector, lambda state: self._apply_all(items, state, quiet=quiet)
        )

    def _apply_all(
        self, items: list[_Item], state: ReceiptState, *, quiet: bool
    ) -> ReceiptWrites:
        parts = state.parts
        # Snapshots, not rows: a callback event renders the message as it
        # was at its change, so each change makes a new one.
        self.messages = {
            key: SimpleNamespace(**row._asdict()) for key, row in state.messages.items()
        }
        self.states = state.states
        outcomes: list[dict[str, Any]] = []
        for receipt_id, stat, err, error_code, connector, carrier_id in items:
            found_part = parts.get((connector, carrier_id))
            if found_part is None:
                if not quiet:
                    logger.info(
                        "receipt for unknown carrier id %s on %s kept until its "
                        "submission is recorded",
                        carrier_id,
                        connector,
                    )
                continue
            part = found_part
            message = self.messages.get((part.message_id, part.message_created_at))
            if message is not None and message.status == status.QUEUED:
                # A part of a multipart message whose other parts are still to
                # be sent: applied with them, once the message is SUBMITTED.
                continue
            outcome = self._apply(stat, err, error_code, part)
            outcomes.append(
                {
                    "id": receipt_id,
                    "outcome": outcome,
                    "message_id": part.message_id,
                    "message_created_at": part.message_created_at,
                    "part_no": part.part_no,
                }
            )
        return ReceiptWrites(
            [
                {"message_id": key[0], "message_created_at": key[1], "part_no": no}
                | values
                for (key, no), values in sorted(self.part_updates.items())
            ],
            [(key, vars(self.messages[key])) for key in sorted(self.changed)],
            outcomes,
        )

    def _apply(
        self, stat: str, err: str | None, error_code: str | None, part: Any
    ) -> str:
        key = (part.message_id, part.message_created_at)
        message = self.messages.get(key)
        states = self.states.setdefault(key, {})
        part_status = states.get(part.part_no, part.status)
        if message is None or part_status != status.SUBMITTED:
            # A late or out-of-order receipt: the part already had its final one.
            logger.info(
                "late receipt %s for %s part %d ignored (part is %s)",
                stat,
                part.message_id,
                part.part_no,
                part_status,
            )
            return IGNORED
        carrier_error = f"stat:{stat}" + (f" err:{err}" if err else "")
        detail = f"receipt for part {part.part_no}/{message.parts}: {carrier_error}"
        final = _FINAL.get(stat)
        if final is None:
            if message.status not in status.TERMINAL:
                self.changes.note(message, detail, changed=False)
            return APPLIED
        new_part, code = final
        metrics.get().receipt_latency.labels(part.connector).observe(
            max((self.changes.now - part.submitted_at).total_seconds(), 0.0)
        )
        self.part_updates[(key, part.part_no)] = {
            "status": new_part,
            "stat": stat,
            "err": err,
            "done_at": self.changes.now,
        }
        states[part.part_no] = new_part
        delivered = list(states.values()).count(status.DELIVERED)
        values: dict[str, Any] = {"parts_delivered": delivered}
        new_status = None
        if new_part != status.DELIVERED:
            new_status = new_part
            values.update(
                error_code=error_code if stat == "UNDELIV" and error_code else code,
                carrier_error=carrier_error[:100],
                error_text=f"part {part.part_no} of {message.parts}: {stat}",
            )
        elif delivered == len(states):
            # Every carrier id's receipt is in. A route that sends long texts
            # as one message_payload PDU has one id for all the parts.
            new_status = status.DELIVERED
            values["parts_delivered"] = message.parts
        changed = new_status is not None and status.can_move(message.status, new_status)
        if changed:
            values.update(
                status=new_status, done_at=self.changes.now, updated_at=self.changes.now
            )
        row = SimpleNamespace(**(vars(message) | values))
        self.messages[key] = row
        self.changed.add(key)
        # Only PartsDelivered moves on a message that already ended.
        if changed or message.status not in status.TERMINAL:
            self.changes.note(row, detail, changed=changed, previous=message.status)
        return APPLIED


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
