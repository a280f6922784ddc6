"""Migrations, durability settings and the monthly partitions."""

from __future__ import annotations

import multiprocessing
import threading
from datetime import date, datetime
from typing import Any

import pytest
from sqlalchemy import event, inspect, text

from soapsms.store import dispatch_queries as q
from soapsms.store.db import make_engine, transaction
from soapsms.store.migrate import current_revision, head_revision, upgrade
from soapsms.store.partitions import ensure_partitions, month_start


def test_upgrade_is_idempotent_and_reaches_head(db_url):
    engine = make_engine(db_url)
    upgrade(engine)
    upgrade(engine)
    assert current_revision(engine) == head_revision()
    tables = set(inspect(engine).get_table_names())
    assert {
        "accounts",
        "batches",
        "messages",
        "status_history",
        "rate_events",
    } <= tables
    engine.dispose()


def test_concurrent_upgrades_do_not_race(db_url):
    errors: list[BaseException] = []

    def run() -> None:
        engine = make_engine(db_url)
        try:
            upgrade(engine)
        except BaseException as exc:  # noqa: BLE001 - collected for the assert
            errors.append(exc)
        finally:
            engine.dispose()

    threads = [threading.Thread(target=run) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert errors == []
    engine = make_engine(db_url)
    assert current_revision(engine) == head_revision()
    engine.dispose()


def test_sqlite_is_wal_with_full_sync(sqlite_url):
    engine = make_engine(sqlite_url)
    with transaction(engine) as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert conn.exec_driver_sql("PRAGMA synchronous").scalar() == 2  # FULL
    engine.dispose()


@pytest.mark.postgres
def _write_turns(url: str, name: str, count: int) -> None:
    """`count` write transactions from 2 threads, with SQLite's own busy wait
    switched off: only our writer queue keeps them from colliding."""
    engine = make_engine(url)

    @event.listens_for(engine, "connect")
    def no_busy_wait(dbapi_conn: Any, _record: Any) -> None:
        dbapi_conn.execute("PRAGMA busy_timeout=0")

    def run(thread: int) -> None:
        for n in range(count):
            with transaction(engine, write=True) as conn:
                conn.execute(
                    text("INSERT INTO gateway_meta (key, value) VALUES (:k, 'x')"),
                    {"k": f"{name}-{thread}-{n}"},
                )

    threads = [threading.Thread(target=run, args=(t,)) for t in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    engine.dispose()


def test_sqlite_writers_of_several_processes_take_turns(sqlite_url):
    # Without the queue, the first BEGIN IMMEDIATE that finds the database
    # locked fails at once ("database is locked"), busy waiting being off.
    engine = make_engine(sqlite_url)
    upgrade(engine)
    context = multiprocessing.get_context("fork")
    workers = [
        context.Process(target=_write_turns, args=(sqlite_url, f"p{i}", 150))
        for i in range(2)
    ]
    for worker in workers:
        worker.start()
    _write_turns(sqlite_url, "main", 150)
    for worker in workers:
        worker.join(120)
    assert [w.exitcode for w in workers] == [0, 0]
    with transaction(engine) as conn:
        written = conn.scalar(
            text("SELECT count(*) FROM gateway_meta WHERE value = 'x'")
        )
    assert written == 3 * 2 * 150
    engine.dispose()


def test_postgres_partitions_messages_by_month(request):
    from tests.conftest import _fresh_schema_url

    url = _fresh_schema_url(request.getfixturevalue("postgres_database"))
    engine = make_engine(url)
    upgrade(engine)
    with transaction(engine) as conn:
        strategy = conn.scalar(
            text(
                "SELECT partstrat FROM pg_partitioned_table p JOIN pg_class c ON c.oid = p.partrelid "
                "WHERE c.relname = 'messages' AND c.relnamespace = current_schema()::regnamespace"
            )
        )
        assert strategy == "r"
        names = set(
            conn.scalars(
                text(
                    "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
                    "WHERE c.relnamespace = current_schema()::regnamespace"
                )
            )
        )
    this_month = month_start(date.today())
    assert f"messages_{this_month:%Y_%m}" in names
    assert f"status_history_{month_start(this_month, 12):%Y_%m}" in names
    with transaction(engine, write=True) as conn:
        assert ensure_partitions(conn, this_month) == []  # already there
        created = ensure_partitions(conn, this_month, ahead=13)
    assert created == [
        f"messages_{month_start(this_month, 13):%Y_%m}",
        f"status_history_{month_start(this_month, 13):%Y_%m}",
    ]
    engine.dispose()


def test_store_down_is_server_unavailable(tmp_path):
    from soapsms.errors import Unavailable

    engine = make_engine("postgresql://nobody@127.0.0.1:1/none")
    with pytest.raises(Unavailable):
        with transaction(engine) as conn:
            conn.execute(text("SELECT 1"))


def test_sqlite_times_without_microseconds_are_brought_in_line(sqlite_url):
    # Rows written before 0003 by sqlite3's own adapter: "12:00:00", where
    # SQLAlchemy writes and compares "12:00:00.000000".
    engine = make_engine(sqlite_url)
    upgrade(engine, "0002")
    with transaction(engine, write=True) as conn:
        conn.exec_driver_sql(
            "INSERT INTO message_parts (message_id, message_created_at, part_no, "
            "connector, carrier_id, status, submitted_at) VALUES "
            "('M1', '2026-11-03 12:00:00', 1, 'c', 'id-1', 'SUBMITTED', "
            "'2026-11-03 12:00:01.250000')"
        )
    key = ("M1", datetime(2026, 11, 3, 12))
    with transaction(engine) as conn:
        assert q.parts_of(conn, [key]) == {}
    upgrade(engine)
    with transaction(engine) as conn:
        assert q.parts_of(conn, [key]) == {key: {1: "SUBMITTED"}}
        assert (
            conn.exec_driver_sql("SELECT submitted_at FROM message_parts").scalar()
            == "2026-11-03 12:00:01.250000"
        )
    engine.dispose()
