"""Group commit on SQLite: sends waiting for the write turn share one commit,
and each still gets its own outcome."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from sqlalchemy import Connection, Engine

from soapsms.errors import Unavailable
from soapsms.store import db, group_commit

SCHEMA = (
    "CREATE TABLE parent (id INTEGER PRIMARY KEY)",
    # Checked at COMMIT: lets a test make the group's commit fail.
    "CREATE TABLE child (id INTEGER PRIMARY KEY, parent_id INTEGER "
    "REFERENCES parent(id) DEFERRABLE INITIALLY DEFERRED)",
)


@pytest.fixture
def engine(sqlite_url: str) -> Iterator[Engine]:
    engine = db.make_engine(sqlite_url)
    with db.transaction(engine, write=True) as conn:
        for statement in SCHEMA:
            conn.exec_driver_sql(statement)
    yield engine
    engine.dispose()


def _ids(engine: Engine, table: str = "parent") -> list[int]:
    with db.transaction(engine) as conn:
        return [r[0] for r in conn.exec_driver_sql(f"SELECT id FROM {table} ORDER BY id")]


def _insert(row_id: int, table: str = "parent", **extra: int) -> Callable[[Connection], int]:
    def work(conn: Connection) -> int:
        columns = ["id", *extra]
        values = [row_id, *extra.values()]
        conn.exec_driver_sql(
            f"INSERT INTO {table} ({', '.join(columns)}) "
            f"VALUES ({', '.join('?' * len(values))})",
            tuple(values),
        )
        return threading.get_ident()

    return work


def _failing(row_id: int) -> Callable[[Connection], int]:
    def work(conn: Connection) -> int:
        _insert(row_id)(conn)
        raise ValueError(f"work {row_id} refused")

    return work


def _grouped(engine: Engine, works: list[Callable[[Connection], Any]]) -> list[Any]:
    """Run each work in its own thread while the write turn is held
    elsewhere, so that all of them queue and then go as one group; each
    thread's result or exception, in order."""
    outcomes: list[Any] = [None] * len(works)
    release = threading.Event()
    holding = threading.Event()

    def holder() -> None:
        with db.transaction(engine, write=True):
            holding.set()
            release.wait(10)

    def call(index: int) -> None:
        try:
            outcomes[index] = group_commit.write(engine, works[index])
        except Exception as exc:  # noqa: BLE001 - the test looks at it
            outcomes[index] = exc

    blocker = threading.Thread(target=holder)
    blocker.start()
    assert holding.wait(10)
    threads = [threading.Thread(target=call, args=(i,)) for i in range(len(works))]
    for thread in threads:
        thread.start()
    _wait_until(lambda: len(_queued(engine)) == len(works))
    release.set()
    blocker.join(10)
    for thread in threads:
        thread.join(10)
    return outcomes


def _queued(engine: Engine) -> list[Any]:
    group = group_commit._groups.get(engine)
    return [] if group is None else group._queued


def _wait_until(condition: Callable[[], bool]) -> None:
    event = threading.Event()
    for _ in range(1000):
        if condition():
            return
        event.wait(0.01)
    raise AssertionError("condition not met within 10 s")


def test_queued_writers_share_one_transaction(engine: Engine) -> None:
    outcomes = _grouped(engine, [_insert(1), _insert(2), _insert(3)])
    # Every work ran in the leader's thread, i.e. in its one transaction.
    assert len(set(outcomes)) == 1
    assert _ids(engine) == [1, 2, 3]


def test_a_failing_work_is_rolled_back_alone(engine: Engine) -> None:
    outcomes = _grouped(engine, [_insert(1), _failing(2), _insert(3)])
    assert isinstance(outcomes[1], ValueError)
    assert str(outcomes[1]) == "work 2 refused"
    assert isinstance(outcomes[0], int) and isinstance(outcomes[2], int)
    assert _ids(engine) == [1, 3]


def test_a_failed_commit_fails_every_work_and_stores_nothing(engine: Engine) -> None:
    orphan = _insert(10, "child", parent_id=999)  # breaks the deferred key at COMMIT
    outcomes = _grouped(engine, [_insert(1), orphan, _insert(3)])
    assert all(isinstance(o, Unavailable) for o in outcomes)
    assert len({id(o) for o in outcomes}) == 3  # one exception object per thread
    assert _ids(engine) == [] and _ids(engine, "child") == []
    # The store is fine afterwards.
    assert isinstance(group_commit.write(engine, _insert(4)), int)
    assert _ids(engine) == [4]


def test_a_leader_without_a_turn_fails_alone(
    engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = group_commit.transaction
    calls = []

    @contextmanager
    def first_fails(*args: Any, **kwargs: Any) -> Iterator[Connection]:
        calls.append(1)
        if len(calls) == 1:
            raise Unavailable("no turn")
        with real(*args, **kwargs) as conn:
            yield conn

    monkeypatch.setattr(group_commit, "transaction", first_fails)
    with pytest.raises(Unavailable, match="no turn"):
        group_commit.write(engine, _insert(1))
    assert _queued(engine) == []  # its work was withdrawn
    group_commit.write(engine, _insert(2))
    assert _ids(engine) == [2]


def test_each_postgres_work_is_its_own_transaction(
    postgres_database: str,
) -> None:
    engine = db.make_engine(postgres_database)
    try:
        seen = group_commit.write(
            engine, lambda conn: conn.exec_driver_sql("SELECT txid_current()").scalar()
        )
        again = group_commit.write(
            engine, lambda conn: conn.exec_driver_sql("SELECT txid_current()").scalar()
        )
        assert seen != again
        assert engine not in group_commit._groups
    finally:
        engine.dispose()
