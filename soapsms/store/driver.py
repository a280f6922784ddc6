"""Statements run on the database driver's own cursor, for the few that
every SendMessage runs while it holds SQLite's one write lock.

SQLAlchemy's per-statement work (events, result set-up, error wrapping)
costs several times what SQLite needs for a one-row insert, and on SQLite
that time is spent holding the lock every writer of the store waits for.
On PostgreSQL it is a good share of a one-statement send's CPU too
(docs/performance.md). Errors are raised as SQLAlchemy's own classes (IntegrityError,
OperationalError, ...), so callers and `db.transaction` treat them alike,
and a connection the server dropped is invalidated as SQLAlchemy would.

Statement text is the driver's: `?` placeholders on SQLite, `%s` or
`%(name)s` on PostgreSQL (see `marker`).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from typing import Any

from sqlalchemy import Connection, Dialect
from sqlalchemy.exc import DBAPIError


def marker(dialect: Dialect) -> str:
    """The driver's positional placeholder."""
    return "?" if dialect.paramstyle == "qmark" else "%s"


def _sqlite(conn: Connection) -> sqlite3.Connection | None:
    if conn.dialect.name != "sqlite":
        return None
    return conn.connection.driver_connection


def rows(
    conn: Connection, sql: str, params: Sequence[Any] | dict[str, Any] = ()
) -> list[tuple[Any, ...]]:
    """Run one statement; the rows it returns (none for a write). Named
    parameters (a dict, `%(name)s`) on PostgreSQL only."""
    driver = _sqlite(conn)
    if driver is None:
        return _postgres_rows(conn, sql, params)
    try:
        return driver.execute(sql, params).fetchall()
    except sqlite3.Error as exc:
        raise DBAPIError.instance(sql, params, exc, sqlite3.Error) from exc


def _postgres_rows(
    conn: Connection, sql: str, params: Sequence[Any] | dict[str, Any]
) -> list[tuple[Any, ...]]:
    raw: Any = conn.connection.driver_connection
    dbapi = conn.dialect.loaded_dbapi
    try:
        with raw.cursor() as cursor:
            cursor.execute(sql, params)
            return cursor.fetchall() if cursor.description else []
    except dbapi.Error as exc:
        lost = conn.dialect.is_disconnect(exc, raw, None) or server_gone(exc)
        if lost:
            # As SQLAlchemy does for a disconnect: every pooled connection made
            # before now is discarded too (they reach the same lost server).
            conn.engine.pool._invalidate(conn.connection, exc, _checkin=False)
            conn.invalidate(exc)
        raise DBAPIError.instance(
            sql, params, exc, dbapi.Error, connection_invalidated=lost
        ) from exc


# SQLSTATEs saying the server behind a connection is no longer a primary one
# can use: a standby (read-only transaction, e.g. a demoted primary), shutting
# down or starting up, or the connection itself broken (class 08).
_SERVER_GONE = {"25006", "57P01", "57P02", "57P03"}


def server_gone(exc: BaseException) -> bool:
    """Whether a PostgreSQL error means the connection must not be reused:
    it reaches a server that cannot take our writes (any longer)."""
    state = getattr(exc, "sqlstate", None) or ""
    return state in _SERVER_GONE or state.startswith("08")


def many(conn: Connection, sql: str, params: Sequence[Sequence[Any]]) -> None:
    """Run one write statement for each parameter tuple."""
    driver = _sqlite(conn)
    if driver is None:
        conn.exec_driver_sql(sql, list(params))
        return
    try:
        driver.executemany(sql, params)
    except sqlite3.Error as exc:
        raise DBAPIError.instance(sql, params, exc, sqlite3.Error) from exc
