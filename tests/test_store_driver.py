"""Statements on the driver's own cursor fail as SQLAlchemy's would.

store.driver runs the sends' statements on sqlite3's and psycopg's cursors,
past SQLAlchemy; its errors must still be SQLAlchemy's classes, and a
PostgreSQL connection the server dropped must leave the pool, so that the
caller sees Unavailable once and the next send gets a live connection.
"""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.exc import IntegrityError, OperationalError

from soapsms.errors import Unavailable
from soapsms.store import db, driver


@pytest.fixture
def engine(db_url: str) -> Iterator[Engine]:
    engine = db.make_engine(db_url)
    with db.transaction(engine, write=True) as conn:
        driver.rows(conn, "CREATE TABLE t (id integer PRIMARY KEY)")
    yield engine
    engine.dispose()


def _insert(engine: Engine, value: int) -> None:
    with db.transaction(engine, write=True) as conn:
        driver.rows(
            conn, f"INSERT INTO t (id) VALUES ({driver.marker(conn.dialect)})", (value,)
        )


def test_constraint_errors_are_sqlalchemy_integrity_errors(engine: Engine) -> None:
    _insert(engine, 1)
    with pytest.raises(IntegrityError):
        _insert(engine, 1)
    _insert(engine, 2)  # the failed transaction was rolled back, the store is fine
    with db.transaction(engine) as conn:
        assert driver.rows(conn, "SELECT id FROM t ORDER BY id") == [(1,), (2,)]


@pytest.fixture
def one_connection(postgres_database: str) -> Iterator[Engine]:
    """A PostgreSQL engine whose pool holds one connection, reused each time."""
    engine = db.make_engine(postgres_database, pool_size=1)
    yield engine
    engine.dispose()


@pytest.mark.postgres
def test_a_dropped_postgres_connection_is_unavailable_once(
    one_connection: Engine, postgres_database: str
) -> None:
    engine = one_connection
    with db.single_statement(engine) as conn:
        (pid,) = driver.rows(conn, "SELECT pg_backend_pid()")[0]
    # Autocommit: pg_stat_activity is read once per transaction, so a loop
    # inside one would see the terminated backend for ever.
    admin = create_engine(
        db.normalize_url(postgres_database), isolation_level="AUTOCOMMIT"
    )
    with admin.connect() as other:
        other.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
        deadline = time.monotonic() + 10
        while other.execute(
            text("SELECT count(*) FROM pg_stat_activity WHERE pid = :pid"),
            {"pid": pid},
        ).scalar():
            assert time.monotonic() < deadline, "the backend did not end"
            time.sleep(0.01)
    admin.dispose()
    with pytest.raises(Unavailable) as info:
        with db.single_statement(engine) as conn:
            driver.rows(conn, "SELECT 1")
    assert isinstance(info.value.__cause__, OperationalError)
    assert info.value.__cause__.connection_invalidated
    with db.single_statement(engine) as conn:
        assert driver.rows(conn, "SELECT 1") == [(1,)]
        (again,) = driver.rows(conn, "SELECT pg_backend_pid()")[0]
    assert again != pid


@pytest.mark.postgres
def test_single_statement_connections_go_back_out_of_autocommit(
    one_connection: Engine,
) -> None:
    with db.single_statement(one_connection) as conn:
        assert conn.connection.driver_connection.autocommit
    with db.transaction(one_connection) as conn:
        assert not conn.connection.driver_connection.autocommit
