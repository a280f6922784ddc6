"""Engines and transactions; nothing is connected at import time."""

from __future__ import annotations

import fcntl
import logging
import math
import os
import re
import threading
import time
import weakref
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any, TypeAlias

from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.engine import ExceptionContext, make_url
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout

from soapsms.errors import ConfigError, Unavailable
from soapsms.store import driver
from soapsms.store.deadline import watchdog

logger = logging.getLogger(__name__)

_WRITE = "soapsms_write"
_TIMEOUT = "soapsms_timeout"
# Seconds any store operation may take (settings.store_timeout_seconds).
DEFAULT_TIMEOUT = 5.0


# libpq's multi-host form, postgresql://u@h1:5432,h2:5432/db, which SQLAlchemy's
# URL parser rejects (it reads one host and one port).
_MULTIHOST = re.compile(
    r"^(?P<scheme>postgres(?:ql)?(?:\+\w+)?)://(?P<user>[^@/?]*@)?"
    r"(?P<hosts>[^/?]*,[^/?]*)(?P<rest>[/?].*)?$"
)
_HOST_PORT = re.compile(r"^(?:\[(?P<v6>[^\]]+)\]|(?P<name>[^:]*))(?::(?P<port>\d*))?$")


def normalize_url(url: str) -> str:
    """Pick psycopg 3 for plain postgresql:// URLs (SQLAlchemy defaults to
    psycopg2), and turn libpq's multi-host form into SQLAlchemy's
    (`?host=h1,h2&port=p1,p2`): libpq then tries the hosts in turn and, with
    `target_session_attrs=read-write`, connects to the one that is primary."""
    parsed = make_url(_multihost_to_query(url))
    if parsed.drivername in ("postgresql", "postgres"):
        parsed = parsed.set(drivername="postgresql+psycopg")
    return parsed.render_as_string(hide_password=False)


def _multihost_to_query(url: str) -> str:
    match = _MULTIHOST.match(url)
    if match is None:
        return url
    hosts, ports = [], []
    for item in match["hosts"].split(","):
        part = _HOST_PORT.match(item)
        if part is None or not (part["v6"] or part["name"]):
            raise ConfigError(f"bad host {item!r} in the database URL")
        hosts.append(part["v6"] or part["name"])
        ports.append(part["port"] or "5432")
    rest = match["rest"] or "/"
    path, _, query = rest.partition("?")
    if "host=" in query or "port=" in query:
        raise ConfigError("give the database hosts either in the URL or as ?host=")
    joined = f"host={','.join(hosts)}&port={','.join(ports)}"
    query = f"{joined}&{query}" if query else joined
    return f"{match['scheme']}://{match['user'] or ''}{path}?{query}"


# What use cases hold an engine and an open transaction by: they hand them to
# the store's functions and never use them themselves.
StoreEngine: TypeAlias = Engine
Transaction: TypeAlias = Connection


def is_sqlite(engine: Engine) -> bool:
    return engine.dialect.name == "sqlite"


def make_engine(
    url: str, *, pool_size: int = 5, timeout: float = DEFAULT_TIMEOUT
) -> Engine:
    """An engine for `url`, with durable SQLite settings where it applies, and
    every wait bounded by `timeout` seconds (see `transaction`)."""
    url = normalize_url(url)
    options = {_TIMEOUT: timeout}
    if url.startswith("sqlite"):
        engine = create_engine(
            url,
            # The driver's own transaction handling is switched off so that we
            # can say BEGIN IMMEDIATE for writers: a deferred transaction that
            # later writes fails with "database is locked" when another
            # process wrote in between, instead of waiting its turn.
            connect_args={
                "timeout": timeout,
                "isolation_level": None,
                "check_same_thread": False,
            },
            execution_options=options,
        )
        # At the first connection, not here: a command that never gets as far
        # as the store (bad input, a store not created yet) leaves no file.
        event.listen(engine, "do_connect", _create_owner_only)
        event.listen(engine, "connect", _sqlite_on_connect)
        event.listen(engine, "begin", _sqlite_on_begin)
        return engine
    # No pre-ping: it cost a round trip per checkout, i.e. per transaction.
    # A connection the server dropped fails its first statement instead,
    # which callers see as Unavailable (safe to retry) while SQLAlchemy
    # discards the pool's stale connections; recycling keeps idle ones fresh.
    engine = create_engine(
        url,
        pool_size=pool_size,
        max_overflow=pool_size,
        pool_recycle=1800,
        pool_timeout=timeout,
        connect_args=_postgres_bounds(url, timeout),
        execution_options=options,
    )
    event.listen(engine, "handle_error", _on_postgres_error)
    if _host_count(url) > 1:
        _LastPrimary().listen(engine)
    return engine


class _LastPrimary:
    """A multi-host engine connects to the host it last reached first: after
    a failover, each new connection would otherwise spend connect_timeout on
    the lost primary (silent when its machine is gone) before the next host."""

    def __init__(self) -> None:
        self.last: tuple[str, str] | None = None

    def listen(self, engine: Engine) -> None:
        event.listen(engine, "do_connect", self._first)
        event.listen(engine, "connect", self._reached)

    def _first(self, _dialect: Any, _record: Any, _args: Any, params: Any) -> None:
        hosts = str(params.get("host", "")).split(",")
        ports = str(params.get("port", "")).split(",")
        if self.last is None or len(hosts) != len(ports):
            return
        pairs = list(zip(hosts, ports, strict=True))
        if self.last in pairs:
            pairs.remove(self.last)
            pairs.insert(0, self.last)
            params["host"] = ",".join(h for h, _ in pairs)
            params["port"] = ",".join(p for _, p in pairs)

    def _reached(self, dbapi_conn: Any, _record: Any) -> None:
        self.last = (str(dbapi_conn.info.host), str(dbapi_conn.info.port))


def _on_postgres_error(context: ExceptionContext) -> None:
    """A server that became a standby or is going away counts as a lost
    connection: SQLAlchemy then discards it and the rest of the pool, and the
    next checkout connects afresh, to whichever host is primary now."""
    if context.original_exception is not None and driver.server_gone(
        context.original_exception
    ):
        context.is_disconnect = True


def _create_owner_only(
    _dialect: Any, _record: Any, cargs: Sequence[Any], cparams: dict[str, Any]
) -> None:
    """Before sqlite3 opens it: create a new SQLite file readable by its owner
    alone (it holds password hashes and message texts); SQLite gives its -wal
    and -shm files the same mode."""
    path = str(cargs[0]) if cargs else str(cparams.get("database", ""))
    if not path or path == ":memory:" or path.startswith("file:"):
        return
    try:
        os.close(os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600))
    except OSError:
        pass  # it exists, or a missing directory SQLite's own error names


def _postgres_bounds(url: str, timeout: float) -> dict[str, Any]:
    """libpq's own bounds, all in the startup packet: no round trip of their
    own. A value the URL sets itself is the operator's and is kept."""
    ms = max(int(timeout * 1000), 1)
    query = make_url(url).query
    server = f"-c statement_timeout={ms} -c lock_timeout={ms}"
    given = query.get("options")
    if given:  # kept (connect_args replace the URL's), and last: its -c wins
        server = f"{server} {given if isinstance(given, str) else ' '.join(given)}"
    bounds: dict[str, Any] = {
        # libpq takes whole seconds, at least 2, and spends them on each host
        # of a multi-host URL in turn: the bound is shared out between them
        # (rounded down, so that silent hosts together stay within it when
        # it allows 2 s a host).
        "connect_timeout": max(int(timeout / _host_count(url)), 2),
        "keepalives": 1,
        "keepalives_idle": max(math.ceil(timeout / 2), 1),
        "keepalives_interval": 1,
        "keepalives_count": 3,
        "tcp_user_timeout": ms,
    }
    return {k: v for k, v in bounds.items() if k not in query} | {"options": server}


def _host_count(url: str) -> int:
    hosts = make_url(url).query.get("host")
    if hosts is None:
        return 1
    if isinstance(hosts, str):
        return len(hosts.split(","))
    return len(hosts)


def store_timeout(engine: Engine) -> float:
    """The engine's bound on any store operation, in seconds."""
    return float(engine.get_execution_options().get(_TIMEOUT, DEFAULT_TIMEOUT))


def _sqlite_on_connect(dbapi_conn: Any, _record: Any) -> None:
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    # FULL: an acknowledged message survives power loss, not only a crash.
    cur.execute("PRAGMA synchronous=FULL")
    cur.execute("PRAGMA foreign_keys=ON")
    # The busy timeout is the driver's `timeout` (make_engine): the bound.
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

    Both waits are bounded: a holder that hangs (a stopped process, a stalled
    disk) makes the others fail with Unavailable, not wait for ever. The flock
    has no timeout of its own, so a contended one is waited for by a helper
    thread (one per process: the thread lock lets one waiter through) while
    the writer waits for it with the bound; an uncontended one costs nothing
    more than before.
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
            self._waiter = _FlockWaiter(self._fd) if self._fd is not None else None
            self._pid = os.getpid()

    @contextmanager
    def turn(self, timeout: float) -> Iterator[None]:
        until = time.monotonic() + timeout
        with _queues_lock:
            self._for_this_process()
        if not self._lock.acquire(timeout=timeout):
            raise _busy(timeout)
        try:
            fd, waiter = self._fd, self._waiter
            if fd is None or waiter is None:
                yield
                return
            if not waiter.acquire(until - time.monotonic()):
                raise _busy(timeout)
            try:
                yield
            finally:
                fcntl.flock(fd, fcntl.LOCK_UN)
        finally:
            self._lock.release()


def _busy(timeout: float) -> Unavailable:
    logger.warning("no write turn on the SQLite store within %g s", timeout)
    return Unavailable("the message store is unavailable; retry later")


class _FlockWaiter:
    """Takes the flock at once when it is free, else through a helper thread
    that blocks in flock() while the caller waits with a bound; a turn that
    comes after the caller gave up is handed straight back."""

    def __init__(self, fd: int) -> None:
        self._fd = fd
        self._state = threading.Lock()
        self._want = threading.Event()
        self._got = threading.Event()
        self._busy = False  # the helper is blocked in flock()
        self._waiting = False  # a caller waits for the helper's turn
        self._thread: threading.Thread | None = None

    def acquire(self, timeout: float) -> bool:
        if not self._busy:
            try:
                fcntl.flock(self._fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                return True
            except BlockingIOError:
                pass
        with self._state:
            self._waiting = True
            if not self._busy:
                self._busy = True
                self._got.clear()
                self._want.set()
                if self._thread is None:
                    self._thread = threading.Thread(
                        target=self._help, name="sqlite-writer-turn", daemon=True
                    )
                    self._thread.start()
        self._got.wait(max(timeout, 0.0))
        with self._state:
            self._waiting = False
            got = self._got.is_set()
            self._got.clear()
        return got

    def _help(self) -> None:
        while True:
            self._want.wait()
            self._want.clear()
            fcntl.flock(self._fd, fcntl.LOCK_EX)
            with self._state:
                self._busy = False
                if self._waiting:
                    self._got.set()
                    continue
            fcntl.flock(self._fd, fcntl.LOCK_UN)  # its caller gave up meanwhile


class HeldLock:
    """An flock on a file beside a SQLite database, held until `release()` or
    until its process dies: the kernel frees it then, however the process
    ended, so the next holder knows at once that the last one is gone."""

    def __init__(self, path: str | None) -> None:
        self.path = path
        self._fd: int | None = None
        if path is not None:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_CLOEXEC, 0o600)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                os.close(fd)
                raise
            self._fd = fd
            # Released when dropped, e.g. by a test that never stops it.
            self._finalizer = weakref.finalize(self, os.close, fd)

    def release(self) -> None:
        if self._fd is not None:
            self._fd = None
            self._finalizer()


def hold_lock_beside(engine: Engine, suffix: str) -> HeldLock | None:
    """The flock of `<database><suffix>` (SQLite), or None while another
    process (or another holder in this one) has it. An in-memory database
    has no file and no other process: the lock is granted."""
    database = engine.url.database
    path = f"{database}{suffix}" if database and database != ":memory:" else None
    try:
        return HeldLock(path)
    except BlockingIOError:
        return None


_queues_lock = threading.Lock()
_writer_queues: weakref.WeakKeyDictionary[Engine, _WriterQueue] = (
    weakref.WeakKeyDictionary()
)


@contextmanager
def _writer_turn(engine: Engine, write: bool, timeout: float) -> Iterator[None]:
    if not write or engine.dialect.name != "sqlite":
        yield
        return
    with _queues_lock:
        queue = _writer_queues.get(engine)
        if queue is None:
            queue = _writer_queues[engine] = _WriterQueue(engine.url.database)
    with queue.turn(timeout):
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
    except PoolTimeout as exc:  # every pooled connection busy past the bound
        logger.warning("store unavailable: %s", exc)
        raise Unavailable("the message store is unavailable; retry later") from exc
    except DBAPIError as exc:
        if exc.connection_invalidated:
            logger.warning("store connection lost: %s", exc.orig)
            raise Unavailable("the message store is unavailable; retry later") from exc
        raise


@contextmanager
def _deadline(conn: Connection, until: float | None) -> Iterator[None]:
    """PostgreSQL: the connection is cut if still in use at `until` (monotonic).
    SQLite needs none: its waits are the busy timeout and the writer queue."""
    if until is None or conn.dialect.name == "sqlite":
        yield
        return
    token = watchdog.arm(until - time.monotonic(), conn.connection.driver_connection)
    try:
        yield
    finally:
        watchdog.disarm(token)


@contextmanager
def single_statement(engine: Engine) -> Iterator[Connection]:
    """A connection whose each statement is a transaction of its own
    (autocommit): a write done in one statement then costs one round trip,
    where BEGIN and COMMIT would cost one each. PostgreSQL only (SQLite
    writers must say BEGIN IMMEDIATE, see `transaction`). Bounded like
    `transaction`."""
    if is_sqlite(engine):
        raise ValueError("single_statement is for PostgreSQL")
    until = time.monotonic() + store_timeout(engine)
    with unavailable_on_failure(), engine.connect() as conn, _deadline(conn, until):
        # Set on the driver's connection: SQLAlchemy's isolation_level option
        # costs a share of a send's CPU, setting it and resetting it at check-in
        # (docs/performance.md).
        raw: Any = conn.connection.driver_connection
        raw.autocommit = True
        try:
            yield conn
        finally:
            if not raw.closed:
                raw.autocommit = False


@contextmanager
def transaction(
    engine: Engine,
    *,
    write: bool = False,
    within: float | None = None,
    long: bool = False,
) -> Iterator[Connection]:
    """One transaction; committed on success, rolled back on any error, and
    store failures raised as errors.Unavailable.

    It takes at most the engine's timeout (`store_timeout`), or `within`
    seconds, from its call to its commit, waits for the pool, the connection,
    the write turn and locks included; then it fails with Unavailable. `long`
    (migrations, a purge's dry-run counts) lifts the client deadline and the
    statement and lock timeouts, not the bounded waits for a connection or
    the write turn.
    """
    timeout = store_timeout(engine) if within is None else within
    until = None if long else time.monotonic() + timeout
    with unavailable_on_failure():
        # The connection is taken before the writer's turn and given back
        # after it: the turn is the one thing writers wait for.
        with engine.connect() as conn, _writer_turn(engine, write, timeout):
            if write:
                conn = conn.execution_options(**{_WRITE: True})
            with _deadline(conn, until), conn.begin():
                if long and not is_sqlite(engine):
                    conn.exec_driver_sql(
                        "SET LOCAL statement_timeout = 0; SET LOCAL lock_timeout = 0"
                    )
                yield conn
