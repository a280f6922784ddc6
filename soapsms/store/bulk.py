"""Bulk statements whose text does not grow with the batch.

On PostgreSQL a batch travels as one array per column (COPY for plain
inserts): a statement for 500 rows is as short as one for 5, so psycopg's
query cache and the server's prepared plans keep serving it, where an IN
list or a multi-row VALUES of a new length is parsed and planned afresh each
time (the dispatcher spent most of its CPU there). SQLite has no arrays; its
in-process driver takes executemany and chunked IN lists cheaply.

Like `repository`, every function takes an open Connection and holds no
business rule.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterator, Sequence
from typing import Any

from sqlalchemy import (
    Column,
    ColumnElement,
    Connection,
    Row,
    Table,
    and_,
    any_,
    bindparam,
    tuple_,
    update,
)
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.engine import Dialect

from soapsms.store import driver

# Bound parameters a SQLite statement is given at most: its limit is 999 in
# older builds (32,766 since 3.32).
SQLITE_PARAMETERS = 900
# Fewer rows than this go as one INSERT each: COPY's own round trips (start,
# data, end) cost more than it saves on a handful of rows.
COPY_FROM = 20


def _is_postgres(conn: Connection) -> bool:
    return conn.dialect.name == "postgresql"


def _array(column: Column[Any], values: Sequence[Any]) -> Any:
    return bindparam(None, list(values), type_=ARRAY(column.type))


def pairs_in(
    conn: Connection, columns: tuple[Column[Any], Column[Any]], keys: Sequence[Any]
) -> Iterator[ColumnElement[bool]]:
    """WHERE clauses selecting rows by (id, created_at) pairs: one on
    PostgreSQL, chunks on SQLite.

    PostgreSQL matches each column against an array. That is the pairs
    themselves because ids are unique on their own (ULIDs) and the time
    only tells the planner which month partitions to touch.
    """
    if not keys:
        return
    if _is_postgres(conn):
        yield and_(
            columns[0] == any_(_array(columns[0], [k[0] for k in keys])),
            columns[1] == any_(_array(columns[1], [k[1] for k in keys])),
        )
        return
    ordered = sorted(set(keys))
    size = SQLITE_PARAMETERS // 2
    for start in range(0, len(ordered), size):
        yield tuple_(*columns).in_(ordered[start : start + size])


def values_in(
    conn: Connection, column: Column[Any], values: Sequence[Any]
) -> Iterator[ColumnElement[bool]]:
    """WHERE clauses for `column IN values`: one on PostgreSQL, chunks on SQLite."""
    if not values:
        return
    if _is_postgres(conn):
        yield column == any_(_array(column, values))
        return
    ordered = sorted(set(values))
    for start in range(0, len(ordered), SQLITE_PARAMETERS):
        yield column.in_(ordered[start : start + SQLITE_PARAMETERS])


def _unnest(table: Table, names: Sequence[str], dialect: Dialect) -> str:
    """One array parameter per column, as rows v(names); psycopg placeholders."""
    arrays = ", ".join(
        f"CAST(%({name})s AS {table.c[name].type.compile(dialect=dialect)}[])"
        for name in names
    )
    return f"unnest({arrays}) AS v({', '.join(names)})"


def update_rows(
    conn: Connection,
    table: Table,
    keys: Sequence[str],
    rows: Sequence[dict[str, Any]],
) -> None:
    """Set each row's other columns where its `keys` columns match; every row
    names the same columns."""
    if not rows:
        return
    names = list(rows[0])
    changed = [n for n in names if n not in keys]
    if _is_postgres(conn):
        conn.exec_driver_sql(
            _update_sql(table, tuple(keys), tuple(names), conn.dialect),
            {name: [row[name] for row in rows] for name in names},
        )
        return
    conn.execute(
        update(table)
        .where(*(table.c[k] == bindparam(f"k_{k}") for k in keys))
        .values({n: bindparam(f"v_{n}") for n in changed}),
        [
            {f"k_{k}": row[k] for k in keys} | {f"v_{n}": row[n] for n in changed}
            for row in rows
        ],
    )


@functools.lru_cache(maxsize=64)
def _update_sql(
    table: Table, keys: tuple[str, ...], names: tuple[str, ...], dialect: Dialect
) -> str:
    # Built once: a SQLAlchemy text() of it was parsed anew on every batch.
    sets = ", ".join(f"{n} = v.{n}" for n in names if n not in keys)
    match = " AND ".join(f"t.{k} = v.{k}" for k in keys)
    return (
        f"UPDATE {table.name} AS t SET {sets} "
        f"FROM {_unnest(table, names, dialect)} WHERE {match}"
    )


def insert_rows(conn: Connection, table: Table, rows: Sequence[dict[str, Any]]) -> None:
    """Insert rows that all name the same columns: COPY on PostgreSQL (but
    for a few rows), the driver's executemany otherwise.

    Values are converted by the column types once per distinct value, not
    once per row: a bulk send shares all but a few values between its rows.
    """
    if not rows:
        return
    columns = tuple(rows[0])
    processors, sql = _insert_plan(table, columns, conn.dialect)
    if len(rows) > 1:
        processors = tuple(_memoized(p) if p else None for p in processors)
    params = [
        tuple(
            convert(row[name]) if convert else row[name]
            for name, convert in zip(columns, processors, strict=True)
        )
        for row in rows
    ]
    if _is_postgres(conn) and len(params) >= COPY_FROM:
        listed = ", ".join(columns)
        cursor = conn.connection.driver_connection.cursor()  # type: ignore[union-attr]
        try:
            with cursor.copy(f"COPY {table.name} ({listed}) FROM STDIN") as copy:
                for values in params:
                    copy.write_row(values)
        finally:
            cursor.close()
        return
    if len(params) == 1:
        driver.rows(conn, sql, params[0])
    else:
        driver.many(conn, sql, params)


@functools.lru_cache(maxsize=128)
def _insert_plan(
    table: Table, columns: tuple[str, ...], dialect: Dialect
) -> tuple[tuple[Any, ...], str]:
    """Each column's value converter and the INSERT's text, worked out once:
    looking the converters up cost more than a one-row insert itself."""
    processors = tuple(
        # The dialect's own type: a generic DateTime has no processor, and
        # sqlite3's default adapter writes "12:00:00" where SQLAlchemy writes
        # and compares "12:00:00.000000".
        table.c[name].type.dialect_impl(dialect).bind_processor(dialect)
        for name in columns
    )
    marker = driver.marker(dialect)
    sql = (
        f"INSERT INTO {table.name} ({', '.join(columns)}) "
        f"VALUES ({', '.join([marker] * len(columns))})"
    )
    return processors, sql


def insert_with(
    conn: Connection,
    first_table: Table,
    first: dict[str, Any],
    table: Table,
    rows: Sequence[dict[str, Any]],
    *,
    only_if: str | None = None,
    condition_params: dict[str, Any] | None = None,
) -> bool:
    """PostgreSQL: one row into `first_table` and `rows` into `table`, in one
    statement. A constraint that either insert breaks fails the statement.

    With `only_if` (an SQL condition, its parameters in `condition_params`),
    nothing is inserted unless it holds, all in the same statement; returns
    whether it held.
    """
    head, names = tuple(first), tuple(rows[0])
    params = {f"f_{name}": first[name] for name in head}
    if len(rows) == 1:
        params.update({f"r_{name}": rows[0][name] for name in names})
    else:
        params.update({f"r_{name}": [row[name] for row in rows] for name in names})
    params.update(condition_params or {})
    sql = _insert_with_sql(
        first_table, head, table, names, len(rows) == 1, only_if, conn.dialect
    )
    return bool(driver.rows(conn, sql, params)[0][0])


@functools.lru_cache(maxsize=64)
def _insert_with_sql(
    first_table: Table,
    head: tuple[str, ...],
    table: Table,
    names: tuple[str, ...],
    one_row: bool,
    only_if: str | None,
    dialect: Dialect,
) -> str:
    """insert_with's statement in psycopg's own placeholders, built once: a
    SQLAlchemy text() of it was parsed anew on every send. One row travels as
    plain values, several as one array per column."""

    def cast(name: str, column: Column[Any], suffix: str = "") -> str:
        return f"CAST(%({name})s AS {column.type.compile(dialect=dialect)}{suffix})"

    firsts = ", ".join(cast(f"f_{n}", first_table.c[n]) for n in head)
    if one_row:
        source = f"SELECT {', '.join(cast(f'r_{n}', table.c[n]) for n in names)} "
        source += "FROM ok WHERE ok.ok"
    else:
        arrays = ", ".join(cast(f"r_{n}", table.c[n], "[]") for n in names)
        source = (
            f"SELECT v.* FROM unnest({arrays}) AS v({', '.join(names)}), ok WHERE ok.ok"
        )
    return (
        f"WITH ok AS (SELECT ({_pyformat(only_if or 'true')}) AS ok), "
        f"f AS (INSERT INTO {first_table.name} ({', '.join(head)}) "
        f"SELECT {firsts} FROM ok WHERE ok.ok), "
        f"m AS (INSERT INTO {table.name} ({', '.join(names)}) {source}) "
        "SELECT ok FROM ok"
    )


def _pyformat(condition: str) -> str:
    """`:name` parameters written as psycopg's `%(name)s`."""
    return re.sub(r"(?<![:\w]):(\w+)", r"%(\1)s", condition)


def insert_new_returning(
    conn: Connection,
    table: Table,
    rows: Sequence[dict[str, Any]],
    unique: Sequence[str],
    returning: Sequence[str],
) -> list[Row[Any]]:
    """Insert the rows not already present by the `unique` columns; the
    inserted rows' `returning` columns. PostgreSQL only (SQLite callers use
    SQLAlchemy's insert ... on_conflict_do_nothing)."""
    if not rows:
        return []
    names = tuple(rows[0])
    return list(
        conn.exec_driver_sql(
            _insert_new_sql(
                table, names, tuple(unique), tuple(returning), conn.dialect
            ),
            {name: [row[name] for row in rows] for name in names},
        )
    )


@functools.lru_cache(maxsize=64)
def _insert_new_sql(
    table: Table,
    names: tuple[str, ...],
    unique: tuple[str, ...],
    returning: tuple[str, ...],
    dialect: Dialect,
) -> str:
    return (
        f"INSERT INTO {table.name} ({', '.join(names)}) "
        f"SELECT * FROM {_unnest(table, names, dialect)} "
        f"ON CONFLICT ({', '.join(unique)}) DO NOTHING "
        f"RETURNING {', '.join(returning)}"
    )


def _memoized(processor: Any) -> Any:
    cache: dict[Any, Any] = {}

    def convert(value: Any) -> Any:
        try:
            return cache[value]
        except KeyError:
            converted = cache[value] = processor(value)
            return converted
        except TypeError:  # unhashable
            return processor(value)

    return convert
