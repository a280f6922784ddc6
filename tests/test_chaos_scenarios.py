"""Issue 13's chaos scenarios, reduced (150 messages each), against real
processes and the npm SMSC; `make chaos` runs them at full size. Every
target of the issue is judged here as there (docs/chaos.md).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.chaos.scenarios import (
    TEST,
    Result,
    Setup,
    carrier_refusals,
    dispatcher_kills,
    drops_and_stalls,
    sqlite_serve_kills,
    store_faults,
    web_kills,
)
from tests.smsc.npm import ensure_installed


@pytest.fixture
def setup(tmp_path: Path) -> Setup:
    ensure_installed()
    return Setup(tmp_path, None, TEST, log=lambda _line: None)


@pytest.fixture
def pg_setup(setup: Setup, postgres_database: str) -> Setup:
    # The scenarios create a database of their own on the same server.
    setup.postgres_url = postgres_database
    return setup


def judged(*results: Result) -> None:
    missed = [
        f"{r.scenario}: {row.what} = {row.value} (target {row.target})"
        for r in results
        for row in r.missed()
    ]
    assert not missed, "\n".join([*missed, *(r.table() for r in results)])


@pytest.mark.postgres
def test_dispatcher_sigkilled_and_restarted(pg_setup: Setup) -> None:
    judged(dispatcher_kills(pg_setup))


@pytest.mark.postgres
def test_two_dispatchers_one_killed(pg_setup: Setup) -> None:
    judged(dispatcher_kills(pg_setup, two=True))


@pytest.mark.postgres
def test_web_workers_sigkilled_while_clients_retry(pg_setup: Setup) -> None:
    judged(web_kills(pg_setup))


@pytest.mark.postgres
@pytest.mark.parametrize("fault", ["throttle", "queue_full"])
def test_carrier_throttles_or_answers_queue_full(pg_setup: Setup, fault: str) -> None:
    judged(*carrier_refusals(pg_setup, which=(fault,)))


@pytest.mark.postgres
def test_carrier_drops_and_stalls_mid_window(pg_setup: Setup) -> None:
    judged(drops_and_stalls(pg_setup))


@pytest.mark.postgres
def test_store_refuses_then_goes_silent(pg_setup: Setup) -> None:
    judged(store_faults(pg_setup))


def test_sqlite_serve_sigkilled_and_restarted(setup: Setup) -> None:
    judged(sqlite_serve_kills(setup))
