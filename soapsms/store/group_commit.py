"""Group commit for SQLite: writers of one process that wait for the write
turn at the same time share one transaction and one commit.

SQLite has one write lock for every process, and with `synchronous=FULL`
each commit waits for an fsync while holding it; under load the lock, not
the CPU, set SendMessage's pace. Here the first waiting thread leads: once
it has the turn (`db.transaction(write=True)`), it runs its own work and
that of every thread of the process that queued meanwhile, each in a
savepoint of its own, and commits once. A piece of work that raises is
rolled back to its savepoint and its thread gets the error; the others are
unaffected. Nobody is answered before the commit: when it fails, every
thread of the group gets the failure and nothing of the group is stored.

On PostgreSQL, whose writers do not queue for one lock, each piece of work
is a transaction of its own.
"""

from __future__ import annotations

import os
import threading
import time
import weakref
from collections.abc import Callable
from typing import Any, Generic, TypeVar

from sqlalchemy import Connection, Engine

from soapsms.errors import Unavailable
from soapsms.store import driver
from soapsms.store.db import (
    is_sqlite,
    store_timeout,
    transaction,
    unavailable_on_failure,
)

T = TypeVar("T")


class _Job(Generic[T]):
    __slots__ = ("work", "result", "error", "done")

    def __init__(self, work: Callable[[Connection], T]) -> None:
        self.work = work
        self.result: T | None = None
        self.error: BaseException | None = None
        self.done = False


class _Group:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.pid = os.getpid()
        self._queued: list[_Job[Any]] = []
        self._queue_lock = threading.Lock()
        self._leader = threading.Lock()

    def run(self, work: Callable[[Connection], T]) -> T:
        job = _Job(work)
        until = time.monotonic() + store_timeout(self.engine)
        with self._queue_lock:
            self._queued.append(job)
        if self._leader.acquire(timeout=store_timeout(self.engine)):
            try:
                if not job.done:
                    # What is left of this thread's bound, not a new one.
                    self._lead(job, max(until - time.monotonic(), 0.001))
            finally:
                self._leader.release()
        else:
            # Leaders kept failing or stalling for the whole bound: give up,
            # unless a leader took this work already (then its bounded
            # transaction decides, and it is over once the leader lock is free).
            with self._queue_lock:
                if job in self._queued:
                    self._queued.remove(job)
                    raise Unavailable("the message store is unavailable; retry later")
            with self._leader:
                pass
        if job.error is not None:
            raise job.error
        return job.result  # type: ignore[return-value]

    def _lead(self, own: _Job[Any], within: float) -> None:
        jobs: list[_Job[Any]] = []
        try:
            with transaction(self.engine, write=True, within=within) as conn:
                # Taken once the turn is ours: whoever queued while this
                # thread waited for it joins this commit.
                with self._queue_lock:
                    jobs, self._queued = self._queued, []
                for job in jobs:
                    _run_in_savepoint(conn, job)
        except BaseException as exc:
            if not jobs:
                # No turn: this thread's work is withdrawn and the failure
                # is its own; the others queued lead in their turn.
                with self._queue_lock:
                    self._queued.remove(own)
                own.done = True
                raise
            for job in jobs:
                if job.error is None:
                    job.error = _failed_commit(exc)
            if not isinstance(exc, Exception):
                raise  # an interrupt or exit is the leader's to act on
        finally:
            for job in jobs:
                job.done = True


def _run_in_savepoint(conn: Connection, job: _Job[Any]) -> None:
    driver.rows(conn, "SAVEPOINT job")
    try:
        with unavailable_on_failure():  # store failures as `transaction` says them
            job.result = job.work(conn)
    except Exception as exc:  # noqa: BLE001 - handed to the job's own thread
        driver.rows(conn, "ROLLBACK TO job")
        job.error = exc
    driver.rows(conn, "RELEASE job")


def _failed_commit(exc: BaseException) -> BaseException:
    # Each thread raises its own exception object: one raised in several
    # threads at once would have its traceback written by all of them.
    if isinstance(exc, Unavailable):
        failure = Unavailable(str(exc))
    else:
        failure = Unavailable("the message store is unavailable; retry later")
    failure.__cause__ = exc
    return failure


_groups_lock = threading.Lock()
_groups: weakref.WeakKeyDictionary[Engine, _Group] = weakref.WeakKeyDictionary()


def write(engine: Engine, work: Callable[[Connection], T]) -> T:
    """`work(conn)` in a write transaction, committed before this returns;
    on SQLite possibly together with other threads' work (see above). The
    work must do nothing but store work: it may run in another thread."""
    if not is_sqlite(engine):
        with transaction(engine, write=True) as conn:
            return work(conn)
    with _groups_lock:
        group = _groups.get(engine)
        if group is None or group.pid != os.getpid():  # a forked child starts afresh
            group = _groups[engine] = _Group(engine)
    return group.run(work)
