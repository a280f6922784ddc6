"""Every read of the waiting messages goes through the partial index
ix_messages_due on SQLite, which uses it only when the query repeats its
condition as text (bound values make it scan every message)."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy import Connection, event

from soapsms.store import dispatch_queries, operations, stats
from soapsms.store.db import transaction
from soapsms.store.sqlite import SqliteStore
from soapsms.usecases.runtime import Runtime

READS: dict[str, Callable[[Connection, Any], object]] = {
    "claim": lambda c, now: dispatch_queries.due_messages(
        c, SqliteStore(c.engine), now, 200
    ),
    "expiry sweep": lambda c, now: dispatch_queries.overdue_messages(
        c, SqliteStore(c.engine), now, 500
    ),
    "queue depth": lambda c, now: stats.due_depth(c, now, 10_000),
    "oldest due": lambda c, now: stats.oldest_due(c, now),
    "console: due": lambda c, now: operations.due_sample(c, now, 10_000),
    "console: back-off": lambda c, now: operations.backing_off(c, now, 201),
}


@pytest.mark.parametrize("name", sorted(READS))
def test_waiting_messages_are_read_through_the_partial_index(
    sqlite_url: str, name: str
) -> None:
    from soapsms.store.migrate import upgrade
    from tests.conftest import make_settings

    rt = Runtime(make_settings(sqlite_url))
    upgrade(rt.engine)
    seen: list[tuple[str, Any]] = []

    def keep(_conn: Any, _cursor: Any, statement: str, params: Any, *_: Any) -> None:
        if "FROM messages" in statement:
            seen.append((statement, params))

    event.listen(rt.engine, "before_cursor_execute", keep)
    try:
        with transaction(rt.engine) as conn:
            READS[name](conn, rt.now())
        event.remove(rt.engine, "before_cursor_execute", keep)
        assert seen, name
        with rt.engine.connect() as conn:
            for statement, params in seen:
                plan = " ".join(
                    str(row[-1])
                    for row in conn.exec_driver_sql(
                        "EXPLAIN QUERY PLAN " + statement, params
                    )
                )
                # Searched or walked, the index holds only the waiting ones.
                assert "USING INDEX ix_messages_due" in plan, (name, plan)
                assert not re.search(r"SCAN messages(?! USING)", plan), (name, plan)
    finally:
        rt.close()
