"""Login throttling that strangers cannot turn into a lockout, length caps,
and WS-Security freshness (issue 14, items 2, 3 and 10)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest

from soapsms.errors import AuthenticationFailed, LoginThrottled
from soapsms.store.migrate import upgrade
from soapsms.usecases import accounts, auth
from soapsms.usecases.requests import Credentials
from soapsms.usecases.runtime import Runtime
from tests.conftest import LiveServer, make_settings
from tests.smtp_helpers import example, ingress, send
from tests.soap_helpers import auth_xml, envelope, post, raw_fault

LIMIT = 3
GET_ACCOUNT = "<sms:GetAccount>{auth}</sms:GetAccount>"


@pytest.fixture
def proxied(db_url: str) -> Iterator[LiveServer]:
    """A gateway behind a trusted proxy on loopback, so that a test can send
    from any source address with X-Forwarded-For."""
    settings = make_settings(
        db_url, trusted_proxies=("127.0.0.0/8",), login_failures_per_window=LIMIT
    )
    rt = Runtime(settings)
    upgrade(rt.engine)
    accounts.create_account(rt, "acme", "s3cret")
    with LiveServer(rt) as server:
        yield server
    rt.close()


def _login(server: LiveServer, source: str, password: str) -> tuple[int, str]:
    response = post(
        server.url,
        envelope(GET_ACCOUNT.format(auth=auth_xml(password=password))),
        headers={"X-Forwarded-For": source},
    )
    if response.status_code == 200:
        return 200, ""
    return response.status_code, raw_fault(response)[0]


def test_strangers_cannot_lock_an_account_out(proxied, monkeypatch):
    monkeypatch.setattr(auth, "ACCOUNT_SLOWDOWN_SECONDS", 0.0)
    for n in range(1, 9):  # eight sources, each up to its own limit
        for _ in range(LIMIT):
            _login(proxied, f"198.51.100.{n}", "guess")
    monkeypatch.setattr(auth, "ACCOUNT_SLOWDOWN_SECONDS", 0.3)
    started = time.monotonic()
    assert _login(proxied, "203.0.113.7", "s3cret") == (200, "")
    # Guessed at from everywhere, the account is slower, never refused.
    assert time.monotonic() - started >= 0.3


def test_a_guessing_source_is_refused_unchecked_and_others_are_not(proxied):
    answers = [_login(proxied, "198.51.100.1", "guess")[1] for _ in range(LIMIT)]
    assert answers[-1] == "Client.AuthenticationFailed"
    calls = []
    original = proxied.runtime.authenticator._verify
    proxied.runtime.authenticator._verify = lambda *a: calls.append(a) or original(*a)
    # The guessing source waits even with the right password, without a hash.
    assert _login(proxied, "198.51.100.1", "s3cret")[0] == 500
    assert calls == []
    assert _login(proxied, "198.51.100.2", "s3cret") == (200, "")


def test_ipv6_sources_count_by_their_64(proxied):
    for n in range(1, LIMIT + 1):  # a new address of the same /64 each time
        _login(proxied, f"2001:db8:1:2::{n:x}", "guess")
    assert _login(proxied, "2001:db8:1:2:ffff::1", "s3cret")[0] == 500
    assert _login(proxied, "2001:db8:1:3::1", "s3cret") == (200, "")


def _creds(password: str, **token: object) -> list[Credentials]:
    return [Credentials("acme", password, "wsse", **token)]  # type: ignore[arg-type]


def test_failures_are_counted_across_workers(db_url):
    settings = make_settings(db_url, login_failures_per_window=LIMIT)
    one, two = Runtime(settings), Runtime(settings)  # two workers' state
    upgrade(one.engine)
    accounts.create_account(one, "acme", "s3cret")
    try:
        for rt in (one, two, one):
            with pytest.raises(AuthenticationFailed):
                auth.authenticate(rt, _creds("guess"), "198.51.100.9")
        for rt in (one, two):
            with pytest.raises(LoginThrottled):
                auth.authenticate(rt, _creds("s3cret"), "198.51.100.9")
        assert auth.authenticate(two, _creds("s3cret"), "198.51.100.10").account_id
    finally:
        one.close()
        two.close()


def test_smtp_right_password_passes_while_others_guess(runtime, account, monkeypatch):
    monkeypatch.setattr(auth, "ACCOUNT_SLOWDOWN_SECONDS", 0.0)
    for n in range(1, 5):
        for _ in range(runtime.settings.login_failures_per_window):
            with pytest.raises(AuthenticationFailed):
                auth.authenticate(runtime, _creds("guess"), f"198.51.100.{n}")
    with ingress(runtime) as smtp:
        code, text = send(smtp.port, example())
    assert code == 250, text


@pytest.mark.parametrize("who", ["acme", "nobody"])
def test_overlong_credentials_are_refused_before_any_work(runtime, account, who):
    hashed: list[object] = []
    original = runtime.authenticator._check_hash
    runtime.authenticator._check_hash = lambda *a: hashed.append(a) or original(*a)
    for creds in (
        Credentials(who, "p" * 4_000_000, "wsse"),
        Credentials(who * 20, "p", "basic"),
        Credentials(who, "p" * 129, "smtp"),
    ):
        with pytest.raises(AuthenticationFailed) as info:
            auth.authenticate(runtime, [creds], "198.51.100.1")
        assert str(info.value) == "unknown account or wrong password"
    assert hashed == []


def test_known_and_unknown_accounts_run_the_same_check(runtime, account):
    hashed: list[tuple[str, str]] = []
    original = runtime.authenticator._check_hash
    runtime.authenticator._check_hash = lambda h, p: (
        hashed.append((h, p)) or original(h, p)
    )
    for who in ("acme", "nobody"):
        with pytest.raises(AuthenticationFailed):
            auth.authenticate(
                runtime, [Credentials(who, "x" * 128, "wsse")], "198.51.100.1"
            )
    # Both verify the same input against an argon2 hash of the same cost.
    assert [p for _, p in hashed] == ["x" * 128, "x" * 128]
    assert hashed[0][0].split("$")[:4] == hashed[1][0].split("$")[:4]


def _wsse(created: datetime | None, nonce: str | None) -> str:
    wsse = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd"
    wsu = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-utility-1.0.xsd"
    extra = ""
    if nonce is not None:
        extra += f"<wsse:Nonce>{nonce}</wsse:Nonce>"
    if created is not None:
        extra += f"<wsu:Created>{created.strftime('%Y-%m-%dT%H:%M:%SZ')}</wsu:Created>"
    return (
        f'<wsse:Security xmlns:wsse="{wsse}" xmlns:wsu="{wsu}"><wsse:UsernameToken>'
        "<wsse:Username>acme</wsse:Username><wsse:Password>s3cret</wsse:Password>"
        f"{extra}</wsse:UsernameToken></wsse:Security>"
    )


def _with_token(live: LiveServer, header: str) -> tuple[int, str]:
    response = post(live.url, envelope(GET_ACCOUNT.format(auth=""), header=header))
    if response.status_code == 200:
        return 200, ""
    return response.status_code, raw_fault(response)[1]


def test_ws_security_tokens_must_be_fresh_and_used_once(live, account):
    now = datetime.now(UTC)
    assert _with_token(live, _wsse(now, "bm9uY2Ux")) == (200, "")
    code, text = _with_token(live, _wsse(now, "bm9uY2Ux"))
    assert code == 500 and "replayed" in text
    code, text = _with_token(live, _wsse(now - timedelta(minutes=30), "bm9uY2Uy"))
    assert code == 500 and "stale" in text
    code, text = _with_token(live, _wsse(now + timedelta(minutes=30), None))
    assert code == 500 and "stale" in text
    # Tokens without Created and Nonce keep working, as the contract says.
    assert _with_token(live, _wsse(None, None)) == (200, "")
    assert _with_token(live, _wsse(None, None)) == (200, "")


def test_expired_throttle_and_nonce_rows_are_swept(runtime, account, monkeypatch):
    from sqlalchemy import func, select

    from soapsms.store import repository
    from soapsms.store.db import transaction

    old = runtime.now() - timedelta(hours=1)
    with transaction(runtime.engine, write=True) as conn:
        for n in range(5):  # keys that never come again
            repository.record_sends(conn, f"!nonce:{n}", old, 1, old)
        repository.record_sends(conn, "acme", old, 1, old)  # a send: not ours
    monkeypatch.setattr(auth, "_SWEEP_EVERY", 1)
    with pytest.raises(AuthenticationFailed):
        auth.authenticate(runtime, _creds("guess"), "198.51.100.1")
    with transaction(runtime.engine) as conn:
        keys = conn.scalars(select(repository.rate_events.c.account_id)).all()
        assert conn.scalar(select(func.count()).select_from(repository.rate_events))
    assert "acme" in keys and not [k for k in keys if k.startswith("!nonce")]
    assert len([k for k in keys if k.startswith("!")]) == 3  # this failure's
