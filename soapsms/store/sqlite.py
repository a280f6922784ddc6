"""The store on SQLite: one writer at a time, sharing commits; one dispatcher."""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any, ClassVar

from sqlalchemy import Connection, Select
from sqlalchemy.dialects.sqlite import insert

from soapsms.store import dispatch_queries, driver, group_commit, repository
from soapsms.store.base import SendOutcome, SendPlan, Store

# One statement text for any number of recipients: they travel as a JSON array.
_VERSION_AND_BLOCKED = (
    "SELECT a.version, (SELECT json_group_array(b.number) FROM blocked_numbers b "
    "WHERE b.account_id = a.account_id "
    "AND b.number IN (SELECT value FROM json_each(?2))) "
    "FROM accounts a WHERE a.account_id = ?1"
)


class SqliteStore(Store):
    """Writers of a process share the write turn's commit (group_commit)."""

    name: ClassVar[str] = "sqlite"
    one_dispatcher: ClassVar[bool] = True

    def skip_locked(self, query: Select[Any]) -> Select[Any]:
        return query  # one writer at a time: nothing else holds the rows

    def for_update(self, query: Select[Any]) -> Select[Any]:
        return query  # a write transaction holds the database's one write lock

    def messages_by_ids(
        self, conn: Connection, account_id: str, keys: Sequence[tuple[str, datetime]]
    ) -> list[Any]:
        return repository.messages_by_ids_probed(conn, account_id, keys)

    def _write(self, work: Callable[[Connection], SendOutcome]) -> SendOutcome:
        return group_commit.write(self.engine, work)

    def _stored_at_once(self, plan: SendPlan, account_version: int) -> bool:
        return False  # every write waits for the one write turn anyway

    def _version_and_blocked(
        self, conn: Connection, account_id: str, numbers: Sequence[str]
    ) -> tuple[int | None, set[str]]:
        # On the driver's own cursor (store/driver.py): SQLAlchemy's compilation
        # of an expanding IN list cost more than the lookups on every send.
        found = driver.rows(
            conn, _VERSION_AND_BLOCKED, (account_id, json.dumps(list(numbers)))
        )
        return (found[0][0], set(json.loads(found[0][1]))) if found else (None, set())

    def _lock_account(self, conn: Connection, account_id: str) -> None:
        pass  # a write transaction holds the database's one write lock already

    def _add_receipts(
        self, conn: Connection, rows: list[dict[str, Any]]
    ) -> dict[Any, int]:
        receipts = dispatch_queries.receipts
        query = (
            insert(receipts)
            .on_conflict_do_nothing(index_elements=["connector", "carrier_id", "stat"])
            .returning(
                receipts.c.id,
                receipts.c.connector,
                receipts.c.carrier_id,
                receipts.c.stat,
            )
        )
        return dispatch_queries.receipts_inserted(conn.execute(query, rows))

    def _insert_batch_and_messages(
        self, conn: Connection, batch: dict[str, Any], rows: list[dict[str, Any]]
    ) -> None:
        repository.insert_batch(conn, batch)
        repository.insert_messages(conn, rows)
