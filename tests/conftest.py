"""Shared fixtures: loopback-only sockets, stores on SQLite and PostgreSQL,
a live gateway on port 0 and zeep clients built from its served WSDL."""

from __future__ import annotations

import ipaddress
import os
import socket
import threading
import uuid
from collections.abc import Callable, Iterator
from socketserver import ThreadingMixIn
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

import pytest
import requests
import sqlalchemy
import zeep
from zeep.transports import Transport
from zeep.wsse.username import UsernameToken

from soapsms.config import Settings
from soapsms.store.migrate import upgrade
from soapsms.usecases import accounts
from soapsms.usecases.runtime import Runtime
from soapsms.wsgi import create_app

POSTGRES_URL = os.environ.get("SOAPSMS_TEST_POSTGRES_URL", "")
# What must not be skipped for want of it, comma-separated (CI sets it):
# postgres (the server), interop (mono and JAX-WS tool chains, tests/interop),
# nginx (tests/test_deploy_nginx.py), browser (Debian chromium and
# chromium-driver for the web pages, tests/browser.py).
REQUIRED = {
    s.strip() for s in os.environ.get("SOAPSMS_REQUIRE", "").split(",") if s.strip()
}


def pytest_configure(config: pytest.Config) -> None:
    """Settings from the developer's environment (or a Makefile) must not reach
    the tests or the processes they start: each test says what it wants. A hook,
    not import-time code: helpers import this module again as tests.conftest,
    which must not wipe what a running test has set."""
    for name in [n for n in os.environ if n.startswith("SOAPSMS_")]:
        if name not in ("SOAPSMS_TEST_POSTGRES_URL", "SOAPSMS_REQUIRE"):
            del os.environ[name]


@pytest.fixture(scope="session")
def required() -> frozenset[str]:
    """SOAPSMS_REQUIRE's entries, for tests outside this file."""
    return frozenset(REQUIRED)


# --- the network stays on this machine ------------------------------------

_real_connect = socket.socket.connect


def _loopback_only(self: socket.socket, address: Any) -> Any:
    if self.family in (socket.AF_INET, socket.AF_INET6):
        host = address[0]
        try:
            ip = ipaddress.ip_address(host)
        except ValueError:
            ip = ipaddress.ip_address(socket.gethostbyname(host))
        if not ip.is_loopback:
            raise RuntimeError(f"tests may only connect to loopback, not {host}")
    return _real_connect(self, address)


socket.socket.connect = _loopback_only  # type: ignore[method-assign]


# --- stores ------------------------------------------------------------------


def _postgres_or_skip() -> str:
    if not POSTGRES_URL:
        if "postgres" in REQUIRED:
            pytest.fail(
                "SOAPSMS_REQUIRE=postgres but SOAPSMS_TEST_POSTGRES_URL is not set"
            )
        pytest.skip("PostgreSQL tests need SOAPSMS_TEST_POSTGRES_URL (CI sets it)")
    return POSTGRES_URL


@pytest.fixture(scope="session")
def postgres_database() -> Iterator[str]:
    """A fresh database for this run, dropped at the end."""
    base = _postgres_or_skip()
    admin = sqlalchemy.create_engine(
        base.replace("postgresql://", "postgresql+psycopg://", 1),
        isolation_level="AUTOCOMMIT",
    )
    name = f"soapsms_test_{uuid.uuid4().hex[:10]}"
    try:
        with admin.connect() as conn:
            conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
    except sqlalchemy.exc.OperationalError as exc:
        if "postgres" in REQUIRED:
            pytest.fail(f"PostgreSQL required but unreachable: {exc}")
        pytest.skip(f"PostgreSQL unreachable: {exc}")
    url = sqlalchemy.engine.make_url(base).set(database=name)
    yield url.render_as_string(hide_password=False)
    with admin.connect() as conn:
        conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    admin.dispose()


def _fresh_schema_url(database_url: str) -> str:
    """A new schema in the run's database, reached through search_path."""
    schema = f"t_{uuid.uuid4().hex[:12]}"
    engine = sqlalchemy.create_engine(
        database_url.replace("postgresql://", "postgresql+psycopg://", 1)
    )
    with engine.begin() as conn:
        conn.exec_driver_sql(f'CREATE SCHEMA "{schema}"')
    engine.dispose()
    url = sqlalchemy.engine.make_url(database_url)
    return url.update_query_dict(
        {"options": f"-csearch_path={schema}"}
    ).render_as_string(hide_password=False)


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def db_url(request: pytest.FixtureRequest, tmp_path: Any) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'soapsms.db'}"
    return _fresh_schema_url(request.getfixturevalue("postgres_database"))


@pytest.fixture
def sqlite_url(tmp_path: Any) -> str:
    return f"sqlite:///{tmp_path / 'soapsms.db'}"


def make_settings(database_url: str, **changes: Any) -> Settings:
    # argon2 at its cheapest: the tests are about behaviour, not hashing cost.
    base = {
        "database_url": database_url,
        "argon2_time_cost": 1,
        "argon2_memory_kib": 64,
        "argon2_parallelism": 1,
    }
    if "routes" not in changes:
        # Everything to the simulator, unless the test draws its own routes.
        base["carrier"] = "simulator"
    base.update(changes)
    return Settings(**base)  # type: ignore[arg-type]


@pytest.fixture
def settings(db_url: str) -> Settings:
    return make_settings(db_url)


@pytest.fixture
def runtime(settings: Settings) -> Iterator[Runtime]:
    rt = Runtime(settings)
    upgrade(rt.engine)
    yield rt
    rt.close()


@pytest.fixture
def account(runtime: Runtime) -> dict[str, str]:
    accounts.create_account(runtime, "acme", "s3cret", "ACME Corp")
    return {"AccountId": "acme", "Password": "s3cret"}


# --- a live gateway ---------------------------------------------------------


class _ThreadingServer(ThreadingMixIn, WSGIServer):
    daemon_threads = True
    allow_reuse_address = True


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass


class LiveServer:
    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime
        self.app = create_app(runtime=runtime)
        self.server = make_server(
            "127.0.0.1",
            0,
            self.app,
            server_class=_ThreadingServer,
            handler_class=_QuietHandler,
        )
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> LiveServer:
        self.thread.start()
        requests.get(self.url + "/health", timeout=5).raise_for_status()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def live(runtime: Runtime) -> Iterator[LiveServer]:
    with LiveServer(runtime) as server:
        yield server


@pytest.fixture
def make_client(live: LiveServer) -> Callable[..., zeep.Client]:
    """zeep clients built from the WSDL the server serves."""

    def build(
        version: str = "1.1",
        wsse: tuple[str, str] | None = None,
        basic: tuple[str, str] | None = None,
    ) -> zeep.Client:
        session = requests.Session()
        if basic is not None:
            session.auth = basic
        path = "/soap" if version == "1.1" else "/soap12"
        return zeep.Client(
            f"{live.url}{path}?wsdl",
            transport=Transport(session=session, timeout=30, operation_timeout=60),
            wsse=UsernameToken(*wsse) if wsse else None,
        )

    return build


@pytest.fixture
def client(make_client: Callable[..., zeep.Client]) -> zeep.Client:
    return make_client()
