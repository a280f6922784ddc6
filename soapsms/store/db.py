"""Engines and transactions; nothing is connected at import time."""

from __future__ import annotations

import fcntl
import logging
import os
import threading
import weakref
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError, OperationalError

from soapsms.errors import Unavailable
from soapsms.store import driver

logger = logging.getLogger(__name__)

_WRITE = "soapsms_write"


def normalize_url(url: str) -> str:
    """Pick psycopg 3 for plain postgresql:// URLs (SQLAlchemy defaults to psycopg2)."""
    parsed = make_url(url)
    if parsed.drivername in ("postgresql", "postgres"):
        parsed = parsed.set(drivername="postgresql+psycopg")
    return parsed.render_as_string(hide_password=False)


def is_sqlite(engine: Engine) -> bool:
    return engine.dialect.name == "sqlite"


def make_engine(url: str, *, pool_size: int = 5) -> Engine:
    """An engine for `url`, with durable SQLite settings where it applies."""
    url = normalize_url(url)
    if url.startswith("sqlite"):
        engine = create_engine(
            url,
            # The driver's own transaction handling is switched off so that we
            # can say BEGIN IMMEDIATE for writers: a deferred transaction that
            # later writes fails with "database is locked" when another
            # process wrote in between, instead of waiting its turn.
            connect_args={
                "timeout": 30,
                "isolation_level": None,
                "check_same_thread": False,
            },
        )
        event.listen(engine, "connect", _sqlite_on_connect)
        event.listen(engine, "begin", _sqlite_on_begin)
        return engine
    # No pre-ping: it cost a round trip per checkout, i.e. per transaction.
    # A connection the server dropped fails its first statement instead,
    # which callers see as Unavailable (safe to retry) while SQLAlchemy
    # discards the pool's stale connections; recycling keeps idle ones fresh.
    return create_engine(
        url, pool_size=pool_size, max_overflow=pool_size, pool_recycle=1800
    )


def _sqlite_on_connect(dbapi_conn: Any, _record: Any) -> None:
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    # FULL: an acknowledged message survives power loss, not only a crash.
    cur.execute("PRAGMA synchronous=FULL")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute("PRAGMA busy_timeout=30000")
    cur.close()


def _sqlite_on_begin(conn: Connection) -> None:
    write = conn.get_execution_options().get(_WRITE)
    driver.rows(conn, "BEGIN IMMEDIATE" if write else "BEGIN")


class _WriterQueue:
    """SQLite writers of every process wait here for their turn, not in
    SQLite's busy handler: that one sleeps in growing steps (up to 100 ms) and
    lets late comers overtake, so under load a few writes waited for a second.
    Threads queue on a lock; processes on an flock of a file beside the
    database, which the kernel hands over at once and frees if its holder dies.
    """

    def __init__(self, database: str | None) -> None:
        self._path = (
            f"{database}.writer-lock" if database and database != ":memory:" else None
        )
        self._pid = -1
        self._lock = threading.Lock()
        self._fd: int | None = None

    def _for_this_process(self) -> None:
        # A forked child starts afresh: an inherited open file shares its
        # flock with the parent (they would not exclude each other), and the
        # thread lock may have been held by a thread the child does not have.
        if self._pid != os.getpid():
            self._lock = threading.Lock()
            self._fd = None
            if self._path:
                self._fd = os.open(
                    self._path, os.O_WRONLY | os.O_CREAT | os.O_CLOEXEC, 0o600
                )
                # Closed with its engine (the queue lives as long as it does).
                weakref.finalize(self, os.close, self._fd)
            self._pid = os.getpid()

    @contextmanager
    def turn(self) -> Iterator[None]:
        with _queues_lock:
            self._for_this_process()
        with self._lock:
            fd = self._fd
            if fd is None:
                yield
                return
            fcntl.flock(fd, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(fd, fcntl.LOCK_UN)


_queues_lock = threading.Lock()
_writer_queues: weakref.WeakKeyDictionary[Engine, _WriterQueue] = (
    weakref.WeakKeyDictionary()
)


@contextmanager
def _writer_turn(engine: Engine, write: bool) -> Iterator[None]:
    if not write or engine.dialect.name != "sqlite":
        yield
        return
    with _queues_lock:
        queue = _writer_queues.get(engine)
        if queue is None:
            queue = _writer_queues[engine] = _WriterQueue(engine.url.database)
    with queue.turn():
        yield


@contextmanager
def unavailable_on_failure() -> Iterator[None]:
    """Store failures (cannot connect, lost connection, lock timeout) surface
    as errors.Unavailable so that callers can tell "retry later" from a bug."""
    try:
        yield
    except OperationalError as exc:
        logger.warning("store unavailable: %s", exc.orig)
        raise Unavailable("the message store is unavailable; retry later") from exc
    except DBAPIError as exc:
        if exc.connection_invalidated:
            logger.warning("store connection lost: %s", exc.orig)
            raise Unavailable("the message store is unavailable; retry later") from exc
        raise


@contextmanager
def single_statement(engine: Engine) -> Iterator[Connection]:
    """A connection whose each statement is a transaction of its own
    (autocommit): a write done in one statement then costs one round trip,
    where BEGIN and COMMIT would cost one each. PostgreSQL only (SQLite
    writers must say BEGIN IMMEDIATE, see `transaction`)."""
    if is_sqlite(engine):
        raise ValueError("single_statement is for PostgreSQL")
    with unavailable_on_failure(), engine.connect() as conn:
        # Set on the driver's connection: SQLAlchemy's isolation_level option
        # cost ~8% of a send's CPU, setting it and resetting it at check-in.
        raw: Any = conn.connection.driver_connection
        raw.autocommit = True
        try:
            yield conn
        finally:
            if not raw.closed:
                raw.autocommit = False


@contextmanager
def transaction(engine: Engine, *, write: bool = False) -> Iterator[Connection]:
    """One transaction; committed on success, rolled back on any error, and
    store failures raised as errors.Unavailable."""
    with unavailable_on_failure():
        # The connection is taken before the writer's turn and given back
        # after it: the turn is the one thing writers wait for.
        with engine.connect() as conn, _writer_turn(engine, write):
            if write:
                conn = conn.execution_options(**{_WRITE: True})
            with conn.begin():
                yield conn
