"""The store as use cases see it: one object per database, one method per intent.

`soapsms.store.stores.make_store` picks the SQLite or the PostgreSQL strategy
(store/sqlite.py, store/postgresql.py) once, for an engine; what differs
between the two databases is said there, side by side, and nowhere else
above the query modules. Methods take and return plain values and the
dataclasses below, never a connection or a row.
"""

from __future__ import annotations

import functools
import json
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, ClassVar

from sqlalchemy import Connection, Engine
from sqlalchemy.exc import IntegrityError

from soapsms.errors import InsufficientCredit, RateLimited
from soapsms.store import repository
from soapsms.store.db import transaction
from soapsms.store.dispatch_store import DispatchIntents
from soapsms.store.receipt_store import ReceiptIntents


@dataclass(frozen=True)
class SendPlan:
    """The rows one send inserts and the limits they are stored under."""

    account_id: str
    reference: str | None
    batch: dict[str, Any]
    rows: list[dict[str, Any]]
    # Every recipient given as a number: the block list is read for these.
    numbers: list[str]
    rate_limit_per_minute: int | None
    rate_since: datetime  # sends after this count against the rate limit
    credits_needed: int | None  # None: the account has no credit balance


@dataclass(frozen=True)
class StoredMessage:
    """A message of a batch stored earlier, as its first answer showed it."""

    message_id: str
    recipient: str
    scheduled: bool
    parts: int
    encoding: str


@dataclass(frozen=True)
class Stored:
    """The send was stored, as `plan` (the one asked, or its settled form)."""

    plan: SendPlan


@dataclass(frozen=True)
class Replayed:
    """The ClientReference names a batch stored earlier; nothing was stored."""

    batch_id: str
    client_reference: str
    content_hash: str
    rejected: list[tuple[str, str]]  # (recipient, reason) as first answered
    messages: list[StoredMessage]
    blocked: set[str]  # which of the plan's numbers the account blocks now


@dataclass(frozen=True)
class Stale:
    """The account is no longer at the version the send was planned for."""


SendOutcome = Stored | Replayed | Stale
# Called in the send's transaction with the numbers the account blocks: the
# plan to store then (it may raise to refuse the send).
Settle = Callable[[set[str]], SendPlan]


class Store(DispatchIntents, ReceiptIntents, ABC):
    """What the gateway asks of its store; a subclass per database."""

    name: ClassVar[str]
    # One dispatcher in all (SQLite: it holds an flock beside the file), so
    # no bind slots are shared between dispatchers.
    one_dispatcher: ClassVar[bool]

    engine: Engine

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    # --- sending ----------------------------------------------------------------

    def store_send(
        self, plan: SendPlan, account_version: int, settle: Settle
    ) -> SendOutcome:
        """Store `plan` if the account is still at `account_version`: Stale if
        not, Replayed when its ClientReference names a stored batch, else
        Stored once committed. `settle` gives the plan to store once the
        block list is read; the rate limit and credits are enforced here."""
        try:
            if self._stored_at_once(plan, account_version):
                return Stored(plan)
            return self._write(
                functools.partial(self._send, plan, account_version, settle)
            )
        except IntegrityError:
            # A concurrent request with the same ClientReference committed first.
            if plan.reference is None:
                raise
            with transaction(self.engine) as conn:
                version, blocked = self._version_and_blocked(
                    conn, plan.account_id, plan.numbers
                )
                if version != account_version:
                    return Stale()
                replayed = _replayed(conn, plan, blocked)
                if replayed is None:
                    raise
                return replayed

    def _send(
        self, plan: SendPlan, account_version: int, settle: Settle, conn: Connection
    ) -> SendOutcome:
        version, blocked = self._version_and_blocked(
            conn, plan.account_id, plan.numbers
        )
        if version != account_version:
            return Stale()
        if plan.reference is not None:
            # Before the limits: a retry after a timeout must get the stored
            # answer, never a rate-limit or credit fault.
            replayed = _replayed(conn, plan, blocked)
            if replayed is not None:
                return replayed
        plan = settle(blocked)
        self._store(conn, plan)
        return Stored(plan)

    def _store(self, conn: Connection, plan: SendPlan) -> None:
        account_id, rows = plan.account_id, plan.rows
        count, created_at = len(rows), plan.batch["created_at"]
        limit = plan.rate_limit_per_minute
        limited = limit is not None or plan.credits_needed is not None
        if limited:
            # The batch first: a concurrent send with the same ClientReference
            # waits on the batches' unique key and fails there, so it is
            # answered as a replay, never with a rate-limit or credit fault.
            repository.insert_batch(conn, plan.batch)
        if limit is not None:
            self._lock_account(conn, account_id)
            used = repository.recent_sends(conn, account_id, plan.rate_since)
            if used + count > limit:
                raise RateLimited(
                    f"rate limit of {limit} messages a minute "
                    f"reached ({used} sent in the last minute, {count} more asked)",
                    limit=limit,
                )
            repository.record_sends(
                conn, account_id, created_at, count, plan.rate_since
            )
        needed = plan.credits_needed
        if needed is not None and not repository.take_credits(conn, account_id, needed):
            row = repository.get_account(conn, account_id)
            balance = row.credits if row is not None and row.credits is not None else 0
            raise InsufficientCredit(
                f"{needed} credits needed, {balance} available",
                needed=needed,
                balance=balance,
            )
        if limited:
            repository.insert_messages(conn, rows)
        else:
            # A concurrent send with the same ClientReference fails here, on
            # the batches' unique key.
            self._insert_batch_and_messages(conn, plan.batch, rows)

    # --- what differs between databases -----------------------------------------

    @abstractmethod
    def messages_by_ids(
        self, conn: Connection, account_id: str, keys: Sequence[tuple[str, datetime]]
    ) -> list[Any]:
        """Status rows of the account's messages among (message_id, created_at)
        keys, any order, each looked up by its primary key."""

    @abstractmethod
    def _write(self, work: Callable[[Connection], SendOutcome]) -> SendOutcome:
        """`work` in a write transaction, committed before this returns."""

    @abstractmethod
    def _stored_at_once(self, plan: SendPlan, account_version: int) -> bool:
        """Whether `plan` was stored without a transaction of its own."""

    @abstractmethod
    def _version_and_blocked(
        self, conn: Connection, account_id: str, numbers: Sequence[str]
    ) -> tuple[int | None, set[str]]:
        """The account's version and which of `numbers` it blocks."""

    @abstractmethod
    def _lock_account(self, conn: Connection, account_id: str) -> None:
        """Serialise this account's sends until the transaction ends."""

    @abstractmethod
    def _insert_batch_and_messages(
        self, conn: Connection, batch: dict[str, Any], rows: list[dict[str, Any]]
    ) -> None:
        """A batch and its messages."""


def _replayed(conn: Connection, plan: SendPlan, blocked: set[str]) -> Replayed | None:
    assert plan.reference is not None
    batch = repository.find_batch_by_reference(conn, plan.account_id, plan.reference)
    if batch is None:
        return None
    rows = repository.messages_of_batch(conn, batch.batch_id, batch.created_at)
    return Replayed(
        batch_id=batch.batch_id,
        client_reference=batch.client_reference,
        content_hash=batch.content_hash,
        rejected=[(r, reason) for r, reason in json.loads(batch.rejected)],
        messages=[
            StoredMessage(
                row.message_id,
                row.recipient,
                row.scheduled_for is not None,
                row.parts,
                row.encoding,
            )
            for row in rows
        ],
        blocked=blocked,
    )
