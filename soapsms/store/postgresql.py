"""The store on PostgreSQL: sends in one statement where they can, row locks."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any, ClassVar

from sqlalchemy import Connection, Select, text

from soapsms.store import bulk, dispatch_queries, repository
from soapsms.store.base import SendOutcome, SendPlan, Store
from soapsms.store.db import single_statement, transaction

# Sends with fewer messages go in one statement with their batch; larger
# ones COPY their messages.
AT_ONCE_UP_TO = bulk.COPY_FROM

_VERSION_AND_BLOCKED = text(
    "SELECT a.version, ARRAY(SELECT b.number FROM blocked_numbers b "
    "WHERE b.account_id = a.account_id "
    "AND b.number = ANY(CAST(:numbers AS varchar[]))) AS blocked "
    "FROM accounts a WHERE a.account_id = :account"
)

_UNCHANGED_AND_UNBLOCKED = (
    "EXISTS (SELECT 1 FROM accounts a WHERE a.account_id = :c_account "
    "AND a.version = :c_version) AND NOT EXISTS (SELECT 1 FROM blocked_numbers b "
    "WHERE b.account_id = :c_account "
    "AND b.number = ANY(CAST(:c_numbers AS varchar[])))"
)


class PostgresStore(Store):
    """Many dispatchers share the queue; writers do not queue for one lock."""

    name: ClassVar[str] = "postgresql"
    one_dispatcher: ClassVar[bool] = False

    def skip_locked(self, query: Select[Any]) -> Select[Any]:
        # Rows another dispatcher is claiming right now are passed over
        # instead of waited for.
        return query.with_for_update(skip_locked=True)

    def for_update(self, query: Select[Any]) -> Select[Any]:
        return query.with_for_update()

    def messages_by_ids(
        self, conn: Connection, account_id: str, keys: Sequence[tuple[str, datetime]]
    ) -> list[Any]:
        return repository.messages_by_ids_joined(conn, account_id, keys)

    def _write(self, work: Callable[[Connection], SendOutcome]) -> SendOutcome:
        with transaction(self.engine, write=True) as conn:
            return work(conn)

    def _stored_at_once(self, plan: SendPlan, account_version: int) -> bool:
        """A send that needs no account row lock is stored in one statement,
        one round trip: inserted only while the account is unchanged and
        blocks none of the recipients. False when that did not hold (or does
        not apply): the full transaction then works out why."""
        if (
            not plan.rows
            or plan.rate_limit_per_minute is not None
            or plan.credits_needed is not None
            or len(plan.rows) >= AT_ONCE_UP_TO
        ):
            return False
        with single_statement(self.engine) as conn:
            return bulk.insert_with(
                conn,
                repository.batches,
                plan.batch,
                repository.messages,
                plan.rows,
                only_if=_UNCHANGED_AND_UNBLOCKED,
                condition_params={
                    "c_account": plan.account_id,
                    "c_version": account_version,
                    "c_numbers": [row["recipient"] for row in plan.rows],
                },
            )

    def _version_and_blocked(
        self, conn: Connection, account_id: str, numbers: Sequence[str]
    ) -> tuple[int | None, set[str]]:
        # One round trip for both.
        row = conn.execute(
            _VERSION_AND_BLOCKED, {"account": account_id, "numbers": list(numbers)}
        ).first()
        return (None, set()) if row is None else (row.version, set(row.blocked))

    def _lock_account(self, conn: Connection, account_id: str) -> None:
        # The account row lock serialises this account's sends across
        # workers and nodes while the rate window is read and written.
        repository.lock_account(conn, account_id)

    def _add_receipts(
        self, conn: Connection, rows: list[dict[str, Any]]
    ) -> dict[Any, int]:
        # Many rows at once: COPY into a temporary table, then insert the new.
        inserted = bulk.insert_new_returning(
            conn,
            dispatch_queries.receipts,
            rows,
            ("connector", "carrier_id", "stat"),
            ("id", "connector", "carrier_id", "stat"),
        )
        return dispatch_queries.receipts_inserted(inserted)

    def _insert_batch_and_messages(
        self, conn: Connection, batch: dict[str, Any], rows: list[dict[str, Any]]
    ) -> None:
        # A small send in one statement (one round trip), a large one with
        # its messages COPYed.
        if len(rows) < AT_ONCE_UP_TO:
            bulk.insert_with(conn, repository.batches, batch, repository.messages, rows)
            return
        repository.insert_batch(conn, batch)
        repository.insert_messages(conn, rows)
