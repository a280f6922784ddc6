"""Callback URLs checked in full, SSRF through embedded IPv4 and DNS
rebinding, one bad event isolated, fair and bounded (issue 14, items 4, 5)."""

from __future__ import annotations

import ipaddress
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import pytest
from sqlalchemy import select, update

from soapsms.dispatch.callbacks import CallbackSender, check_target, http_post
from soapsms.dispatch.worker import Dispatcher
from soapsms.domain.callback_target import is_public
from soapsms.errors import CallbackRefused
from soapsms.store import dispatch_queries as q
from soapsms.store.db import transaction
from soapsms.store.models import Message
from soapsms.usecases import accounts
from soapsms.usecases.dispatching.callbacks import MAX_ATTEMPTS, claim_callbacks
from soapsms.usecases.runtime import Runtime
from tests.dispatch_helpers import (
    MovableClock,
    ScriptedConnector,
    acme_runtime,
    running,
    send_to,
    wait_for,
)
from tests.soap_helpers import AUTH, fault_code
from tests.test_dispatch_callbacks import Receiver


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver()
    yield r
    r.close()


@pytest.mark.parametrize(
    "url",
    [
        "http://example.com:99999/cb",  # port out of range
        "http://example.com:80a/cb",
        "http://[not-an-address]/cb",
        "http://[fe80::1%eth0]/cb",
        "http://exa mple.com/cb",
        "http://-bad-.example.com/cb",
        "https://" + "a" * 2100 + ".com/",
        "http://100.64.0.1/cb",  # shared address space
        "http://198.18.0.1/cb",  # benchmarking
        "http://[2002:a00:1::1]/cb",  # 6to4 of 10.0.0.1
        "http://[64:ff9b::a9fe:a9fe]/cb",  # NAT64 of 169.254.169.254
        "http://[::ffff:10.0.0.1]/cb",
        "http://[::a00:1]/cb",  # IPv4-compatible
        "http://[64:ff9b:1::1]/cb",  # local-use NAT64
    ],
)
def test_send_message_refuses_unusable_callback_urls(client, account, url):
    message = {
        "Text": "hi",
        "Recipients": {"Recipient": ["+17036069996"]},
        "StatusCallbackUrl": url,
    }
    assert (
        fault_code(lambda: client.service.SendMessage(Auth=AUTH, Message=message))
        == "Client.ValidationError"
    )


@pytest.mark.parametrize(
    ("address", "public"),
    [
        ("100.64.0.1", False),
        ("192.0.0.1", False),
        ("2002:a00:1::1", False),  # 6to4, private inside
        ("2002:5db8:d822::1", True),  # 6to4 of 93.184.216.34
        ("64:ff9b::7f00:1", False),  # NAT64 of loopback
        ("64:ff9b::5db8:d822", True),
        ("2001:0:4136:e378:8000:63bf:f5ff:fffe", False),  # Teredo
        ("::ffff:127.0.0.1", False),
        ("2606:4700::1111", True),
    ],
)
def test_embedded_ipv4_counts(address, public):
    assert is_public(ipaddress.ip_address(address)) is public


def test_the_connection_goes_to_the_checked_address(receiver, monkeypatch):
    port = receiver.server.server_port
    answers = iter(["127.0.0.1", "10.9.9.9"])  # a rebinding name server

    def resolve(host, *args, **kwargs):
        if host != "hooks.example.com":  # a literal resolves to itself
            return [(2, 1, 6, "", (host, port))]
        return [(2, 1, 6, "", (next(answers), port))]

    monkeypatch.setattr("socket.getaddrinfo", resolve)
    url = f"http://hooks.example.com:{port}/cb"
    address = check_target(url, allow_private=True)
    assert address == "127.0.0.1"
    # The transport does not ask DNS again: the second answer is never used.
    assert http_post(url, b"<x/>", {}, 5.0, address) == 200
    headers, body = receiver.posts[0]
    assert headers["Host"] == f"hooks.example.com:{port}" and body == b"<x/>"
    with pytest.raises(CallbackRefused):
        check_target(url, allow_private=False)  # now 10.9.9.9


@pytest.fixture
def rt(db_url: str) -> Iterator[Runtime]:
    with acme_runtime(db_url, MovableClock(), allow_private_callbacks=True) as runtime:
        accounts.create_account(runtime, "beta", "pw-beta")
        yield runtime


def _outbox(rt: Runtime) -> list:
    with transaction(rt.engine) as conn:
        return list(conn.execute(select(q.outbox)))


def test_one_bad_callback_does_not_stall_the_others(rt, receiver):
    bad = send_to(rt, "beta", "+17036069997", status_callback_url=receiver.url)
    with transaction(rt.engine, write=True) as conn:  # as landed code let in
        conn.execute(
            update(Message.__table__)
            .where(Message.message_id == bad.messages[0].message_id)
            .values(status_callback_url="http://127.0.0.1:99999/cb")
        )
    send_to(rt, "acme", "+17036069996", status_callback_url=receiver.url)
    carrier = ScriptedConnector("simulator")
    with running(Dispatcher(rt, {"simulator": carrier})):  # type: ignore[dict-item]
        wait_for(lambda: len(receiver.posts) == 1)
        wait_for(lambda: [r.state for r in _outbox(rt)] == ["failed"])
    [failed] = _outbox(rt)
    assert "port" in failed.last_error.lower() and failed.attempts == 1


def test_every_account_gets_a_signing_secret(rt, receiver):
    first = accounts.callback_secret(rt, "acme")
    assert first and len(first) >= 32 and first != accounts.callback_secret(rt, "beta")
    send_to(rt, "acme", "+17036069996", status_callback_url=receiver.url)
    carrier = ScriptedConnector("simulator")
    with running(Dispatcher(rt, {"simulator": carrier})):  # type: ignore[dict-item]
        wait_for(lambda: receiver.posts)
    assert receiver.posts[0][0]["X-Soapsms-Signature"].startswith("t=")


def _events(rt: Runtime, account: str, count: int, url: str) -> None:
    """`count` due callback events of `account`, straight into the outbox."""
    now = rt.now()
    with transaction(rt.engine, write=True) as conn:
        for n in range(count):
            conn.execute(
                q.outbox.insert().values(
                    event_id=f"{account}-{n:04d}",
                    message_id=f"{account}-m{n}",
                    message_created_at=now,
                    account_id=account,
                    url=url,
                    occurred_at=now,
                    payload=f'{{"message_id": "{account}-m{n}", "status": "SUBMITTED"}}',
                    state="pending",
                    attempts=0,
                    next_attempt_at=now - timedelta(minutes=10) + timedelta(seconds=n),
                    give_up_at=now + timedelta(days=1),
                )
            )


def test_one_accounts_backlog_does_not_hold_up_another(rt):
    _events(rt, "acme", 120, "http://127.0.0.1:9/a")
    _events(rt, "beta", 1, "http://127.0.0.1:9/b")
    with transaction(rt.engine, write=True) as conn:
        leased = q.lease_callbacks(
            conn,
            rt.store,
            "me",
            rt.now(),
            rt.now() + timedelta(minutes=1),
            50,
            per_account=10,
        )
    assert sorted({r.account_id for r in leased}) == ["acme", "beta"]
    assert sum(r.account_id == "acme" for r in leased) == 10


def test_attempts_are_bounded_even_when_leases_run_out(rt):
    _events(rt, "acme", 1, "http://127.0.0.1:9/a")
    with transaction(rt.engine, write=True) as conn:
        conn.execute(update(q.outbox).values(attempts=MAX_ATTEMPTS))
    assert claim_callbacks(rt, "me", 50, timedelta(minutes=1)) == []
    assert [r.state for r in _outbox(rt)] == ["failed"]


def test_a_sender_survives_any_event_error(rt):
    _events(rt, "acme", 2, "http://127.0.0.1:9/a")
    calls = []

    def transport(url, body, headers, timeout, address):
        calls.append(url)
        raise RuntimeError("a bug in a transport")

    sender = CallbackSender(rt, "me", transport=transport)
    with ThreadPoolExecutor(2) as pool:
        assert sender.send_due(pool) == 2
    assert len(calls) == 2
    assert {r.state for r in _outbox(rt)} == {"pending"}
    assert all(r.attempts == 1 and r.lease_owner is None for r in _outbox(rt))
