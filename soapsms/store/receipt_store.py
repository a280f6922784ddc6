"""Receipts' intents on the store: store, look up, apply; one transaction per call.

`Store` (store/base.py) inherits these. The use case works out in memory
what each receipt does to its part and message (`ReceiptPlan.apply`); these
methods read what it needs in a few bulk reads and write its answer in a few
bulk writes, with its side effects (`Effects.flush`), in the same transaction.
"""

from __future__ import annotations

from abc import abstractmethod
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from soapsms.store import dispatch_queries as q
from soapsms.store.db import Transaction, transaction
from soapsms.store.dispatch_store import Effects, Key, MessageRow, RowLocking


@dataclass(frozen=True)
class ReceiptState:
    """What applying receipts reads: their parts, messages and part statuses."""

    parts: dict[tuple[str, str], MessageRow]  # by (connector, carrier id)
    messages: dict[Key, MessageRow]  # locked, in key order (PostgreSQL)
    states: dict[Key, dict[int, str]]  # each message's part statuses


@dataclass(frozen=True)
class ReceiptWrites:
    """What applying receipts changed."""

    parts: list[dict[str, Any]]  # key columns, status, stat, err, done_at
    messages: list[tuple[Key, dict[str, Any]]]  # the receipt columns
    outcomes: list[dict[str, Any]]  # id, outcome, the part's key


@dataclass(frozen=True)
class ReceiptPlan:
    """Receipts to apply: the carrier ids they name, and how."""

    carrier_ids: dict[str, list[str]]  # by connector; none: nothing to do
    apply: Callable[[ReceiptState], ReceiptWrites]


# Called with the receipts stored ({(connector, carrier id, stat): id}).
PlanStored = Callable[[dict[Any, int]], ReceiptPlan]
# Called with the unmatched receipts found, oldest first.
PlanWaiting = Callable[[list[MessageRow]], ReceiptPlan]


class ReceiptIntents(RowLocking):
    """Receipts' intents; `engine` is the store's."""

    @abstractmethod
    def _add_receipts(
        self, conn: Transaction, rows: list[dict[str, Any]]
    ) -> dict[Any, int]:
        """Store receipts; their ids by (connector, carrier id, stat), repeats
        left out."""

    def record_receipts(
        self,
        rows: list[dict[str, Any]],
        plan: PlanStored,
        effects: Effects,
        waiting: tuple[dict[str, list[str]], PlanWaiting] | None = None,
    ) -> None:
        """Store receipt `rows` (a repeat is a no-op) and apply those stored;
        then, in the same transaction, `match_waiting` for `waiting`'s carrier
        ids if given."""
        with transaction(self.engine, write=True) as conn:
            stored = self._add_receipts(conn, rows) if rows else {}
            _apply(conn, self, plan(stored))
            if waiting is not None and waiting[0]:
                _match(conn, self, *waiting)
            effects.flush(conn)

    def match_waiting(
        self, carrier_ids: dict[str, list[str]], plan: PlanWaiting, effects: Effects
    ) -> int:
        """Apply the unmatched receipts for these carrier ids (by connector);
        how many there were."""
        with transaction(self.engine, write=True) as conn:
            found = _match(conn, self, carrier_ids, plan)
            effects.flush(conn)
        return found

    def rematch(
        self, since: datetime, limit: int, plan: PlanWaiting, effects: Effects
    ) -> None:
        """`match_waiting` for up to `limit` unmatched receipts since `since`."""
        with transaction(self.engine, write=True) as conn:
            _match(conn, self, q.unmatched_since(conn, since, limit), plan)
            effects.flush(conn)


def _match(
    conn: Transaction,
    locks: q.RowLocks,
    carrier_ids: dict[str, list[str]],
    plan: PlanWaiting,
) -> int:
    waiting = sorted(
        (
            r
            for connector, ids in carrier_ids.items()
            for r in q.unmatched_receipts(conn, connector, ids)
        ),
        key=lambda r: r.id,
    )
    _apply(conn, locks, plan(waiting))
    return len(waiting)


def _apply(conn: Transaction, locks: q.RowLocks, plan: ReceiptPlan) -> None:
    if not plan.carrier_ids:
        return
    parts: dict[tuple[str, str], MessageRow] = {}
    for connector, carrier_ids in plan.carrier_ids.items():
        found = q.find_parts(conn, connector, carrier_ids)
        parts.update(((connector, c), p) for c, p in found.items())
    keys: Sequence[Key] = [(p.message_id, p.message_created_at) for p in parts.values()]
    writes = plan.apply(
        ReceiptState(
            parts,
            q.messages_by_keys(conn, keys, lock=locks),
            q.parts_of(conn, keys),
        )
    )
    q.update_parts(conn, writes.parts)
    q.update_receipt_columns(conn, writes.messages)
    q.set_receipt_outcomes(conn, writes.outcomes)
