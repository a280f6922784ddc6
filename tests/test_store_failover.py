"""A gateway on a libpq multi-host URL: it connects to whichever host takes
writes, drops pooled connections to a server that stopped taking them (a
demoted primary), and answers Server.Unavailable while none does.

The real primary/standby switch (initdb, pg_basebackup, promotion) is in
tests/test_sites_failover.py and tests/sites/; here one server plays both
parts: proxies stand for hosts, and a read-only session for a standby."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest
import requests
import zeep
from sqlalchemy import text
from sqlalchemy.engine import make_url
from zeep.transports import Transport

from soapsms.errors import ConfigError, Unavailable
from soapsms.store import driver
from soapsms.store.db import make_engine, normalize_url, transaction
from soapsms.store.migrate import upgrade
from soapsms.usecases import accounts
from soapsms.usecases.runtime import Runtime
from tests.conftest import LiveServer, _fresh_schema_url, make_settings
from tests.netfault import BLACKHOLE, PASS, REFUSE, TcpFaultProxy

BOUND = 2.0  # store_timeout_seconds here
SLACK = 1.5


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        (
            "postgresql://u@h1:5432,h2:5433/db?target_session_attrs=read-write",
            "postgresql+psycopg://u@/db?host=h1%2Ch2&port=5432%2C5433"
            "&target_session_attrs=read-write",
        ),
        (
            "postgresql://u:p%40ss@[::1]:6432,10.0.0.2/db",
            "postgresql+psycopg://u:p%40ss@/db?host=%3A%3A1%2C10.0.0.2"
            "&port=6432%2C5432",
        ),
        (
            "postgresql+psycopg://u@/db?host=h1:5432&host=h2:5432"
            "&target_session_attrs=read-write",
            "postgresql+psycopg://u@/db?host=h1%3A5432&host=h2%3A5432"
            "&target_session_attrs=read-write",
        ),
        ("postgresql://u@h1:5432/db", "postgresql+psycopg://u@h1:5432/db"),
        ("sqlite:///x.db", "sqlite:///x.db"),
    ],
)
def test_normalize_url_takes_libpq_and_sqlalchemy_multihost_forms(
    given: str, expected: str
) -> None:
    assert normalize_url(given) == expected


@pytest.mark.parametrize(
    "bad",
    [
        "postgresql://u@h1:5432,:5433/db",
        "postgresql://u@h1,h2/db?host=h3",
    ],
)
def test_normalize_url_refuses_a_bad_host_list(bad: str) -> None:
    with pytest.raises(ConfigError, match="host"):
        normalize_url(bad)


def _multihost(url: str, *ports: int, attrs: str = "read-write") -> str:
    """`url` (one host) rewritten in libpq's form over 127.0.0.1:`ports`."""
    parsed = make_url(url)
    hosts = ",".join(f"127.0.0.1:{port}" for port in ports)
    query = "&".join(
        f"{key}={value.replace('=', '%3D')}"
        for key, value in {**parsed.query, "target_session_attrs": attrs}.items()
        if isinstance(value, str)
    )
    user = f"{parsed.username}@" if parsed.username else ""
    return f"postgresql://{user}{hosts}/{parsed.database}?{query}"


@pytest.fixture
def schema_url(postgres_database: str) -> str:
    return _fresh_schema_url(postgres_database)


@pytest.fixture
def hosts(schema_url: str) -> Iterator[tuple[TcpFaultProxy, TcpFaultProxy]]:
    """Two "hosts": proxies to the one real server."""
    parsed = make_url(schema_url)
    target = (parsed.host or "127.0.0.1", parsed.port or 5432)
    with TcpFaultProxy(*target) as first, TcpFaultProxy(*target) as second:
        yield first, second


def _make_read_only(engine: Any, count: int) -> None:
    """`count` pooled connections turned into ones a standby would give: each
    transaction read-only, as on a primary that was demoted."""
    held = [engine.raw_connection() for _ in range(count)]
    for raw in held:
        cursor = raw.cursor()
        cursor.execute("SET SESSION CHARACTERISTICS AS TRANSACTION READ ONLY")
        cursor.close()
        raw.commit()
    for raw in held:
        raw.close()  # back to the pool, read-only


def _insert_by_driver(conn: Any, n: int) -> None:
    driver.rows(conn, "INSERT INTO probe VALUES (%s)", (n,))


def _insert_by_sqlalchemy(conn: Any, n: int) -> None:
    conn.execute(text("INSERT INTO probe VALUES (:n)"), {"n": n})


@pytest.mark.postgres
@pytest.mark.parametrize("insert", [_insert_by_driver, _insert_by_sqlalchemy])
def test_a_demoted_server_costs_one_unavailable_then_the_pool_reconnects(
    schema_url: str, insert: Any
) -> None:
    parsed = make_url(schema_url)
    engine = make_engine(_multihost(schema_url, parsed.port or 5432), timeout=BOUND)
    try:
        with transaction(engine, write=True) as conn:
            conn.exec_driver_sql("CREATE TABLE probe (n int)")
        _make_read_only(engine, 3)
        assert engine.pool.checkedin() == 3
        with pytest.raises(Unavailable), transaction(engine, write=True) as conn:
            insert(conn, 1)
        # Every connection made before the failure was discarded with it: the
        # next writes go out on fresh ones, not on the other read-only two.
        for n in (2, 3, 4):
            with transaction(engine, write=True) as conn:
                insert(conn, n)
        with transaction(engine) as conn:
            stored = sorted(conn.exec_driver_sql("SELECT n FROM probe").scalars())
        assert stored == [2, 3, 4]
    finally:
        engine.dispose()


@pytest.mark.postgres
def test_libpq_skips_a_read_only_host_and_fails_when_all_are(
    postgres_database: str,
) -> None:
    # A role whose sessions are read-only: what target_session_attrs=read-write
    # sees of a standby (libpq checks default_transaction_read_only too).
    role = f"standby_{int(time.time() * 1000) % 10**9}"
    admin = make_engine(postgres_database)
    try:
        with transaction(admin, write=True) as conn:
            conn.exec_driver_sql(f"CREATE ROLE {role} LOGIN SUPERUSER")
            conn.exec_driver_sql(
                f"ALTER ROLE {role} SET default_transaction_read_only = on"
            )
        url = make_url(postgres_database).set(username=role)
        standby = url.render_as_string(hide_password=False)
        engine = make_engine(
            _multihost(standby, url.port or 5432, url.port or 5432), timeout=BOUND
        )
        started = time.monotonic()
        with pytest.raises(Unavailable), transaction(engine) as conn:
            conn.exec_driver_sql("SELECT 1")
        assert time.monotonic() - started < 2 * BOUND + SLACK
        engine.dispose()
        any_host = make_engine(
            _multihost(standby, url.port or 5432, attrs="any"), timeout=BOUND
        )
        with transaction(any_host) as conn:  # the same server, when allowed
            assert conn.exec_driver_sql("SHOW transaction_read_only").scalar() == "on"
        any_host.dispose()
    finally:
        with transaction(admin, write=True) as conn:
            conn.exec_driver_sql(
                f"SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                f"WHERE usename = '{role}'"
            )
            conn.exec_driver_sql(f"DROP ROLE IF EXISTS {role}")
        admin.dispose()


@pytest.mark.postgres
def test_soap_on_a_multihost_url_follows_the_reachable_host(
    schema_url: str, hosts: tuple[TcpFaultProxy, TcpFaultProxy]
) -> None:
    first, second = hosts
    first.mode = REFUSE  # the old primary's machine is gone
    rt = Runtime(
        make_settings(
            _multihost(schema_url, first.port, second.port),
            store_timeout_seconds=BOUND,
        )
    )
    try:
        upgrade(rt.engine)
        accounts.create_account(rt, "acme", "s3cret", "ACME Corp")
        with LiveServer(rt) as live:
            client = zeep.Client(
                f"{live.url}/soap?wsdl",
                transport=Transport(session=requests.Session(), timeout=30),
            )

            def send(n: int) -> tuple[str, float]:
                started = time.monotonic()
                try:
                    client.service.SendMessage(
                        Auth={"AccountId": "acme", "Password": "s3cret"},
                        Message={
                            "Text": "failover",
                            "RecipientsText": f"+1703606{n:04d}",
                            "ClientReference": f"F-{n}",
                        },
                    )
                    outcome = "stored"
                except zeep.exceptions.Fault as fault:
                    outcome = str(fault.code).rsplit(":", 1)[-1]
                return outcome, time.monotonic() - started

            assert send(1)[0] == "stored"
            second.mode = REFUSE  # no host at all
            outcome, took = send(2)
            assert outcome == "Server.Unavailable"
            assert took < BOUND + SLACK
            first.mode = PASS  # the other host answers again ("promoted")
            answers = [send(n)[0] for n in range(3, 6)]
            assert answers[-1] == "stored"
            assert set(answers) <= {"stored", "Server.Unavailable"}
    finally:
        rt.close()


@pytest.mark.postgres
def test_new_connections_go_first_to_the_host_last_reached(
    schema_url: str, hosts: tuple[TcpFaultProxy, TcpFaultProxy]
) -> None:
    first, second = hosts
    first.mode = BLACKHOLE  # the old primary's machine, silent
    engine = make_engine(_multihost(schema_url, first.port, second.port), timeout=4)
    try:
        started = time.monotonic()
        with transaction(engine) as conn:
            conn.exec_driver_sql("SELECT 1")
        assert time.monotonic() - started >= 1.5  # the silent host's connect_timeout
        engine.dispose()  # e.g. the pool discarded after a failover
        started = time.monotonic()
        with transaction(engine) as conn:
            conn.exec_driver_sql("SELECT 1")
        assert time.monotonic() - started < 1.0
    finally:
        engine.dispose()
