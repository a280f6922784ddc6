"""Fresh bench databases (a SQLite file, a PostgreSQL database), removed after."""

from __future__ import annotations

import ipaddress
import os
import socket
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path

import sqlalchemy
from sqlalchemy.engine import make_url

from soapsms.store.db import make_engine, transaction

POSTGRES_URL = os.environ.get(
    "SOAPSMS_BENCH_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test"
)


def _admin(base: str) -> sqlalchemy.Engine:
    url = make_url(base).set(drivername="postgresql+psycopg")
    return sqlalchemy.create_engine(url, isolation_level="AUTOCOMMIT")


def _check_loopback(base: str) -> None:
    host = make_url(base).host or "127.0.0.1"
    if not ipaddress.ip_address(socket.gethostbyname(host)).is_loopback:
        raise SystemExit(f"the bench only talks to loopback addresses, not {host}")


def postgres_unreachable(base: str = POSTGRES_URL) -> str | None:
    """Why PostgreSQL at `base` cannot be used, or None when it can."""
    _check_loopback(base)
    engine = _admin(base)
    try:
        with engine.connect() as conn:
            conn.exec_driver_sql("SELECT 1")
    except sqlalchemy.exc.OperationalError as exc:
        return str(exc.orig).strip().splitlines()[0]
    finally:
        engine.dispose()
    return None


@contextmanager
def sqlite_database(directory: Path, name: str) -> Iterator[str]:
    """The URL of a new SQLite file in `directory`; the file is deleted after."""
    path = directory / f"{name}.db"
    try:
        yield f"sqlite:///{path}"
    finally:
        for suffix in ("", "-wal", "-shm"):
            path.with_name(path.name + suffix).unlink(missing_ok=True)


@contextmanager
def postgres_database(base: str = POSTGRES_URL) -> Iterator[str]:
    """The URL of a new database soapsms_bench_<random>, dropped after."""
    name = f"soapsms_bench_{uuid.uuid4().hex[:10]}"
    admin = _admin(base)
    try:
        with admin.connect() as conn:
            conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
        try:
            yield make_url(base).set(database=name).render_as_string(False)
        finally:
            with admin.connect() as conn:
                conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        admin.dispose()


def durability(url: str) -> str:
    """How the store commits, read from the store itself."""
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            if engine.dialect.name == "sqlite":
                mode = conn.exec_driver_sql("PRAGMA journal_mode").scalar()
                sync = conn.exec_driver_sql("PRAGMA synchronous").scalar()
                names = {0: "OFF", 1: "NORMAL", 2: "FULL", 3: "EXTRA"}
                return f"journal_mode={mode} synchronous={names.get(sync, sync)}"
            commit = conn.exec_driver_sql("SHOW synchronous_commit").scalar()
            fsync = conn.exec_driver_sql("SHOW fsync").scalar()
            return f"synchronous_commit={commit} fsync={fsync}"
    finally:
        engine.dispose()


def count_messages(url: str) -> int:
    """How many messages the store holds."""
    engine = make_engine(url)
    try:
        with transaction(engine) as conn:
            return int(conn.exec_driver_sql("SELECT count(*) FROM messages").scalar())
    finally:
        engine.dispose()


def forget_since(url: str, since: datetime) -> None:
    """Delete what the bench itself stored after `since`: the store keeps its size."""
    engine = make_engine(url)
    try:
        with transaction(engine, write=True) as conn:
            for table, column in (
                ("messages", "created_at"),
                ("batches", "created_at"),
                ("rate_events", "at"),
            ):
                query = sqlalchemy.text(f"DELETE FROM {table} WHERE {column} >= :since")
                since_param = sqlalchemy.bindparam("since", type_=sqlalchemy.DateTime())
                conn.execute(query.bindparams(since_param), {"since": since})
        if engine.dialect.name == "postgresql":
            # What autovacuum would soon do after a bulk delete (it is off on
            # this machine's server): without it the next measurements ran
            # against ~80,000 dead rows and stale statistics.
            with engine.connect() as conn:
                conn = conn.execution_options(isolation_level="AUTOCOMMIT")
                for table in ("batches", "messages", "rate_events"):
                    conn.exec_driver_sql(f"VACUUM ANALYZE {table}")
    finally:
        engine.dispose()
