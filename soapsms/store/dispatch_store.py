"""The dispatcher's intents on the store: one transaction per call.

`Store` (store/base.py) inherits these. The use case says what happens
(which status follows, the retry delay, what history says); these methods
execute one intent each and write the use case's side effects in the same
transaction (`Effects.flush`).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from sqlalchemy import Engine, Select

from soapsms.domain import status
from soapsms.store import dispatch_queries as q
from soapsms.store.db import Transaction, transaction

Key = q.Key
# A message row as the dispatcher's queries return it, read by column name.
MessageRow = q.Record


class Effects(Protocol):
    """What a transaction's status changes also write (usecases' `Changes`)."""

    def flush(self, conn: Transaction) -> None:
        """Write history, callback events and refunds in `conn`."""


@dataclass(frozen=True)
class Leased:
    """Messages a claim leased, with the parts earlier attempts got accepted."""

    rows: list[MessageRow]  # each QUEUED now, its attempt counted
    scheduled: set[str]  # ids of those that were SCHEDULED until now
    accepted: dict[Key, list[MessageRow]]  # part rows, of multipart ones retried


@dataclass(frozen=True)
class Requeue:
    """What to do with one message asked to be requeued."""

    answer: str  # what was done, as told to the operator
    values: dict[str, Any] | None = None  # the change, None to leave it


# Called with the rows a move changed (the rows after it): the part rows to
# insert with them (the use case notes the changes there too).
PartsOf = Callable[[Sequence[MessageRow]], list[dict[str, Any]]]


@dataclass(frozen=True)
class MoveAll:
    """Apply `values` to those of `keys` still QUEUED, in bulk."""

    keys: Sequence[Key]
    values: dict[str, Any]
    parts: PartsOf


@dataclass(frozen=True)
class MoveOne:
    """Apply `values` to one message if it is still QUEUED."""

    key: Key
    values: dict[str, Any]
    parts: PartsOf


@dataclass(frozen=True)
class MoveIfQueued:
    """Read one message; if still QUEUED, make the move `decide` says of it."""

    key: Key
    decide: Callable[[MessageRow], MoveOne]


@dataclass(frozen=True)
class ReleaseUntried:
    """Give back a message no connector was up to try, due at `due_at`."""

    key: Key
    due_at: datetime


Submission = MoveAll | MoveOne | MoveIfQueued | ReleaseUntried
# Called with a locked message (None: not found): what to do with it.
DecideRequeue = Callable[[MessageRow | None], Requeue]
# Called with every row an intent changed (the row after the change).
Moved = Callable[[MessageRow], None]


class RowLocking(ABC):
    """How the store's database locks rows (`dispatch_queries.RowLocks`)."""

    engine: Engine

    @abstractmethod
    def skip_locked(self, query: Select[Any]) -> Select[Any]:
        """`query` locking its rows, passing over those locked by others."""

    @abstractmethod
    def for_update(self, query: Select[Any]) -> Select[Any]:
        """`query` locking its rows until the transaction ends."""


class DispatchIntents(RowLocking):
    """The dispatcher's intents; `engine` is the store's."""

    def claim(
        self,
        owner: str,
        now: datetime,
        until: datetime,
        limit: int,
        noted: Callable[[Leased], None],
        effects: Effects,
    ) -> Leased:
        """Lease up to `limit` messages due at `now` to `owner` until `until`
        (SCHEDULED ones become QUEUED); `noted` sees them before `effects`
        are written in the same transaction."""
        with transaction(self.engine, write=True) as conn:
            due = q.due_messages(conn, self, now, limit)
            if not due:
                return Leased([], set(), {})
            rows = q.lease_messages(
                conn, [(r.message_id, r.created_at) for r in due], owner, until, now
            )
            leased = Leased(
                rows, {r.message_id for r in due if r.status == status.SCHEDULED}, {}
            )
            noted(leased)
            effects.flush(conn)
            # Only a multipart message tried before can have parts accepted.
            leased.accepted.update(
                q.accepted_parts(
                    conn,
                    [
                        (r.message_id, r.created_at)
                        for r in rows
                        if r.parts > 1 and r.attempts > 1
                    ],
                )
            )
        return leased

    def renew_leases(self, keys: Sequence[Key], owner: str, until: datetime) -> None:
        """Keep `owner`'s leases on `keys` until `until`."""
        if keys:
            with transaction(self.engine, write=True) as conn:
                q.renew_leases(conn, self, keys, owner, until)

    def record_submissions(self, steps: Sequence[Submission], effects: Effects) -> None:
        """What the carriers answered, as `steps`, in one transaction."""
        with transaction(self.engine, write=True) as conn:
            for step in steps:
                _record(conn, step)
            effects.flush(conn)

    def expire_overdue(
        self,
        now: datetime,
        limit: int,
        values: dict[str, Any],
        moved: Moved,
        effects: Effects,
    ) -> int:
        """Apply `values` to up to `limit` waiting messages whose validity
        passed by `now`; how many were found."""
        with transaction(self.engine, write=True) as conn:
            keys = q.overdue_messages(conn, self, now, limit)
            for key in keys:
                row = q.move_message(
                    conn, key, [status.SCHEDULED, status.QUEUED], values
                )
                if row is not None:
                    moved(row)
            effects.flush(conn)
        return len(keys)

    def requeue(
        self,
        keys: Sequence[Key],
        decide: DecideRequeue,
        moved: Moved,
        effects: Effects,
    ) -> list[str]:
        """Each message locked in turn and changed as `decide` says while it
        is still QUEUED; the answers, in the order of `keys`."""
        answers: list[str] = []
        with transaction(self.engine, write=True) as conn:
            for key in keys:
                verdict = decide(q.get_message(conn, key, lock=self))
                if verdict.values is not None:
                    row = q.move_message(conn, key, [status.QUEUED], verdict.values)
                    if row is not None:
                        moved(row)
                answers.append(verdict.answer)
            effects.flush(conn)
        return answers


def _record(conn: Transaction, step: Submission) -> None:
    queued = [status.QUEUED]
    if isinstance(step, ReleaseUntried):
        q.release_untried(conn, step.key, step.due_at)
        return
    if isinstance(step, MoveAll):
        if step.keys:
            rows = q.move_messages(conn, step.keys, queued, step.values)
            q.insert_parts(conn, step.parts(rows))
        return
    if isinstance(step, MoveIfQueued):
        current = q.get_message(conn, step.key)
        if current is None or current.status != status.QUEUED:
            return
        step = step.decide(current)
    row = q.move_message(conn, step.key, queued, step.values)
    if row is not None:
        q.insert_parts(conn, step.parts([row]))
