"""max_binds: a carrier allowing N binds per account gets at most N from all
the nodes sharing the store (PostgreSQL advisory locks, one per bind slot)."""

from __future__ import annotations

import configparser
import threading
import time
from collections.abc import Iterator
from contextlib import ExitStack

import pytest

from soapsms.config import ConnectorConfig, Routes, parse_routes
from soapsms.dispatch.connectors.smpp.connector import SmppConnector
from soapsms.dispatch.worker import Dispatcher
from soapsms.errors import ConfigError
from soapsms.store.bind_slots import HeldSlot, take_slot
from soapsms.store.db import make_engine, transaction
from soapsms.store.migrate import upgrade
from soapsms.usecases import accounts
from soapsms.usecases.runtime import Runtime
from tests.conftest import _fresh_schema_url, make_settings
from tests.dispatch_helpers import running, send_to, status_of
from tests.smsc.esme import FAST
from tests.smsc.fault import FaultSmsc, wait_until


def _routes(text: str) -> Routes:
    parser = configparser.ConfigParser()
    parser.read_string(text)
    return parse_routes(parser, "soapsms.ini")


def test_max_binds_is_read_from_the_connector_section_and_not_passed_on() -> None:
    routes = _routes(
        "[connector:carrier]\ntype = smpp\nhost = smsc\nsystem_id = acme\n"
        "max_binds = 1\n[routes]\ndefault = carrier\n"
    )
    [carrier] = routes.connectors
    assert carrier.max_binds == 1
    assert "max_binds" not in dict(carrier.options)


@pytest.mark.parametrize("bad", ["-1", "one", "1.5"])
def test_a_bad_max_binds_is_a_clear_error(bad: str) -> None:
    says = r"\[connector:carrier\] max_binds must be (a whole number|at least 0)"
    with pytest.raises(ConfigError, match=says):
        _routes(
            f"[connector:carrier]\ntype = smpp\nhost = smsc\nsystem_id = a\n"
            f"max_binds = {bad}\n[routes]\ndefault = carrier\n"
        )


def test_max_binds_on_a_connector_without_binds_is_refused(sqlite_url: str) -> None:
    routes = Routes(
        connectors=(ConnectorConfig("sim", "simulator", max_binds=1),),
        table=(("", ("sim",)),),
    )
    rt = Runtime(make_settings(sqlite_url, routes=routes))
    try:
        with pytest.raises(ConfigError, match="max_binds is for carrier binds"):
            Dispatcher(rt, callbacks=False)
    finally:
        rt.close()


@pytest.fixture
def schema_url(postgres_database: str) -> str:
    return _fresh_schema_url(postgres_database)


@pytest.mark.postgres
def test_slots_are_exclusive_and_freed_with_their_connection(schema_url: str) -> None:
    engine = make_engine(schema_url)
    lost = threading.Event()
    held: list[HeldSlot] = []

    def take(connector: str) -> HeldSlot | None:
        slot = take_slot(engine, connector, 2, lost.set, check_seconds=0.1)
        if slot is not None:
            held.append(slot)
        return slot

    try:
        first, second = take("carrier"), take("carrier")
        assert first is not None and second is not None
        assert {first.slot, second.slot} == {0, 1}
        assert take("carrier") is None
        assert take("other") is not None  # a route has its own slots
        first.release()
        again = take("carrier")
        assert again is not None and again.slot == first.slot
        # The server ends the holder's session (a failover, an operator): the
        # holder notices and says so; the slot is free for another node.
        with transaction(engine, write=True) as conn:
            conn.exec_driver_sql(
                "SELECT pg_terminate_backend(pid) FROM pg_locks "
                "WHERE locktype = 'advisory' AND objid = %s AND granted",
                (second.slot,),
            )
        assert lost.wait(5), "the holder did not notice its slot was lost"
        assert not second.held()
        assert take("carrier") is not None
    finally:
        for slot in held:  # advisory locks are the database's, not the schema's
            slot.release()
        engine.dispose()


@pytest.fixture
def two_nodes(schema_url: str) -> Iterator[tuple[FaultSmsc, list[Runtime]]]:
    """One SMSC; two runtimes ("nodes") whose route to it has max_binds = 1."""
    with ExitStack() as stack, FaultSmsc() as smsc:
        options = {**FAST, "host": "127.0.0.1", "port": str(smsc.port)}
        routes = Routes(
            connectors=(
                ConnectorConfig("carrier", "smpp", tuple(options.items()), 1),
            ),
            table=(("+1", ("carrier",)),),
        )
        nodes = []
        for _ in range(2):
            rt = Runtime(make_settings(schema_url, routes=routes))
            stack.callback(rt.close)
            nodes.append(rt)
        upgrade(nodes[0].engine)
        accounts.create_account(nodes[0], "acme", "s3cret", "ACME Corp")
        yield smsc, nodes


@pytest.mark.postgres
def test_two_nodes_bind_once_and_the_other_takes_over(
    two_nodes: tuple[FaultSmsc, list[Runtime]],
) -> None:
    smsc, (rt_a, rt_b) = two_nodes
    a = Dispatcher(rt_a, callbacks=False)
    b = Dispatcher(rt_b, callbacks=False)
    on_a, on_b = a.connectors["carrier"], b.connectors["carrier"]
    assert isinstance(on_a, SmppConnector) and isinstance(on_b, SmppConnector)
    with running(b), ExitStack() as node_a:
        node_a.enter_context(running(a))
        wait_until(lambda: on_a.is_up() or on_b.is_up(), what="a bind")
        time.sleep(1.5)  # both have asked for the slot a few times meanwhile
        assert len(smsc.bound) == 1
        assert [on_a.is_up(), on_b.is_up()].count(True) == 1
        [sent] = send_to(rt_a, "acme", "+17036069996").messages
        wait_until(
            lambda: status_of(rt_a, sent.message_id) == "SUBMITTED",
            timeout=10,
            what="the message through the one bind",
        )
        holder, other = (on_a, on_b) if on_a.is_up() else (on_b, on_a)
        if holder is on_a:
            node_a.close()  # A stops: its slot is B's now
        else:
            b.stop()  # B stops: its slot is A's now
        wait_until(other.is_up, timeout=5, what="the other node's bind")
        assert len(smsc.bound) == 1
        attempts = len(smsc.bind_attempts)
    # Binds were only tried with a slot: no refused second bind at the SMSC.
    assert attempts == on_a.binds + on_b.binds == 2
