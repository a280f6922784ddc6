"""Authentication: argon2 passwords, a short credential cache, failure throttling.

Every SOAP call carries credentials and argon2 is deliberately slow, so a
verified (account, password) pair is remembered for a short while, keyed by
a keyed hash (never the password) and valid only while the account's
`version` in the store is unchanged: a password change or a disable takes
effect at once on every worker (SendMessage confirms the version in its own
write transaction instead of reading it first).

Failed logins are counted in the store (so every worker and host sees them)
per source and per (account, source), an IPv6 source by its /64: past the
limit that source is refused without hashing, so wrong passwords cannot burn
the CPU. Failures per account from everywhere only slow its checks down and
never refuse the right password from another source, so a stranger cannot
lock a customer out. Credentials are capped in length before any work, and
an unknown account costs the same argon2 check as a known one.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import json
import logging
import os
import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from soapsms.config import Settings
from soapsms.errors import (
    AccessDenied,
    AuthenticationFailed,
    LoginThrottled,
    NoCredentials,
)
from soapsms.store import repository
from soapsms.store.db import Transaction, transaction
from soapsms.store.records import AccountRecord
from soapsms.usecases.requests import Credentials
from soapsms.usecases.results import AccountView
from soapsms.usecases.runtime import Runtime

logger = logging.getLogger(__name__)

_BAD_LOGIN = "unknown account or wrong password"
# The contract's Auth limits, applied to every way of authenticating.
MAX_ACCOUNT_ID = 64
MAX_PASSWORD = 128
# How long a check for an account under attack from many sources waits; at
# most one thread of a process waits at a time, so the delay cannot be
# turned into a way of taking every thread.
ACCOUNT_SLOWDOWN_SECONDS = 0.5
_SLOWING = threading.Semaphore(1)
# One write in this many also drops expired throttle and nonce rows.
_SWEEP_EVERY = 100
# WS-Security: how far a token's Created may be from now, and how long its
# Nonce is remembered.
WSSE_WINDOW = timedelta(minutes=5)


class Authenticator:
    """Per-process login state: password hasher, cache and failure counters."""

    def __init__(self, settings: Settings) -> None:
        self.hasher = PasswordHasher(
            time_cost=settings.argon2_time_cost,
            memory_cost=settings.argon2_memory_kib,
            parallelism=settings.argon2_parallelism,
        )
        self._ttl = settings.credential_cache_seconds
        self._key = os.urandom(32)
        # key -> (the account's version, expiry, its view at that version)
        self._cache: dict[bytes, tuple[int, float, AccountView]] = {}
        self._lock = threading.Lock()
        self._dummy_hash: str | None = None

    def hash_password(self, password: str) -> str:
        return self.hasher.hash(password)

    def _cache_key(self, account_id: str, password: str) -> bytes:
        return hmac.digest(
            self._key, f"{account_id}\0{password}".encode(), hashlib.sha256
        )

    def verify(self, password_hash: str | None, password: str) -> bool:
        """An argon2 check; None (no such login) costs the same and fails."""
        return self._verify(password_hash, password)

    def _verify(self, password_hash: str | None, password: str) -> bool:
        if password_hash is None:
            # An unknown account costs the same as a wrong password: the
            # same argon2 check of the same input, whose answer is ignored.
            if self._dummy_hash is None:
                self._dummy_hash = self.hasher.hash(os.urandom(16).hex())
            self._check_hash(self._dummy_hash, password)
            return False
        return self._check_hash(password_hash, password)

    def _check_hash(self, password_hash: str, password: str) -> bool:
        try:
            return bool(self.hasher.verify(password_hash, password)) and password != ""
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            return False

    def cached(self, row: AccountRecord | None, creds: Credentials) -> bool:
        """Whether these credentials passed recently at the row's version."""
        if row is None:
            return False
        with self._lock:
            hit = self._cache.get(self._cache_key(creds.account_id, creds.password))
        return hit is not None and hit[0] == row.version and hit[1] > time.monotonic()

    def check(self, row: AccountRecord | None, creds: Credentials) -> bool:
        """True when `creds` match `row` (None: unknown account); argon2 runs
        unless they passed recently."""
        if self.cached(row, creds):
            return True
        ok = self._verify(
            row.password_hash if row is not None else None, creds.password
        )
        if ok and row is not None:
            with self._lock:
                if len(self._cache) > 10_000:
                    self._cache.clear()
                self._cache[self._cache_key(creds.account_id, creds.password)] = (
                    row.version,
                    time.monotonic() + self._ttl,
                    account_view(row),
                )
        return ok

    def cached_view(self, creds: Credentials) -> AccountView | None:
        """The account as it was when these credentials last passed, if that
        is recent; its `version` must still be the store's for this to count.
        A throttled source with the right password is no load, so it passes."""
        with self._lock:
            hit = self._cache.get(self._cache_key(creds.account_id, creds.password))
        if hit is None or hit[1] <= time.monotonic():
            return None
        return hit[2]


def source_key(client_ip: str) -> str:
    """The source a failure is counted against: an IPv4 address, an IPv6 /64
    (one host has a whole /64 to choose from)."""
    try:
        address = ipaddress.ip_address(client_ip.strip("[]"))
    except ValueError:
        return client_ip[:64]
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return str(address.ipv4_mapped)
        return str(ipaddress.IPv6Network(f"{address}/64", strict=False))
    return str(address)


def _key(kind: str, *parts: str) -> str:
    # Stored as rate events under a key no account id can take (they start
    # with a letter or digit), hashed to fit the column.
    digest = hashlib.sha256("\0".join(parts).encode()).hexdigest()[:40]
    return f"!{kind}:{digest}"


@dataclass(frozen=True)
class _Failures:
    source: int
    pair: int
    account: int


def _failures(rt: Runtime, account_id: str, source: str, now: datetime) -> _Failures:
    since = now - timedelta(seconds=rt.settings.login_failure_window_seconds)
    with transaction(rt.engine) as conn:
        return _Failures(
            repository.recent_sends(conn, _key("src", source), since),
            repository.recent_sends(conn, _key("pair", account_id, source), since),
            repository.recent_sends(conn, _key("acct", account_id), since),
        )


def _record_failure(rt: Runtime, account_id: str, source: str, now: datetime) -> None:
    forget = now - timedelta(seconds=rt.settings.login_failure_window_seconds)
    with transaction(rt.engine, write=True) as conn:
        for key in (
            _key("src", source),
            _key("pair", account_id, source),
            _key("acct", account_id),
        ):
            repository.record_sends(conn, key, now, 1, forget)
        _sweep(conn, now - max(WSSE_WINDOW, now - forget))


def _sweep(conn: Transaction, before: datetime) -> None:
    # Keys of sources and nonces seldom come again to drop their old rows.
    if random.randrange(_SWEEP_EVERY) == 0:
        repository.forget_keyed_events(conn, "!", '"', before)


def _fresh_token(rt: Runtime, creds: Credentials) -> None:
    """Refuse a WS-Security token whose Created is stale or whose Nonce was
    seen within the window (tokens without them are not checked)."""
    if creds.created is None and creds.nonce is None:
        return
    now = rt.now()
    if creds.created is not None and abs(now - creds.created) > WSSE_WINDOW:
        raise AuthenticationFailed(
            "WS-Security token is stale: its Created is not within 5 minutes of now"
        )
    if creds.nonce is None:
        return
    key = _key("nonce", creds.account_id, creds.nonce)
    with transaction(rt.engine, write=True) as conn:
        seen = repository.recent_sends(conn, key, now - WSSE_WINDOW)
        repository.record_sends(conn, key, now, 1, now - WSSE_WINDOW)
        _sweep(conn, now - WSSE_WINDOW)
    if seen:
        raise AuthenticationFailed("WS-Security token replayed: its Nonce was seen")


def account_view(row: AccountRecord, blocked_count: int = 0) -> AccountView:
    return AccountView(
        account_id=row.account_id,
        name=row.name,
        disabled=row.disabled,
        credits=row.credits,
        default_sender=row.default_sender,
        allowed_senders=tuple(json.loads(row.allowed_senders or "[]")),
        allowed_networks=tuple(json.loads(row.allowed_networks or "[]")),
        max_recipients=row.max_recipients,
        rate_limit_per_minute=row.rate_limit_per_minute,
        default_region=row.default_region,
        callback_secret_set=bool(row.callback_secret),
        version=row.version,
        blocked_count=blocked_count,
    )


def _network_allowed(networks: tuple[str, ...], client_ip: str) -> bool:
    if not networks:
        return True
    try:
        address = ipaddress.ip_address(client_ip)
    except ValueError:
        return False
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped:
        address = address.ipv4_mapped
    return any(address in ipaddress.ip_network(net, strict=False) for net in networks)


def authenticate(
    rt: Runtime,
    credentials: list[Credentials],
    client_ip: str,
    *,
    unconfirmed: bool = False,
) -> AccountView:
    """The one account these credentials name, or an error.

    The password is checked before AccessDenied is considered, so a caller
    who does not know it learns nothing about the account.

    `unconfirmed`: a caller that confirms the account's version in its own
    transaction (and raises StaleAccount when it changed) may get the view
    cached at the last successful login, without reading the store here.
    """
    if not credentials:
        raise NoCredentials("credentials are required")
    for creds in credentials:
        # Before any work, so that size buys an attacker nothing.
        if len(creds.account_id) > MAX_ACCOUNT_ID or len(creds.password) > MAX_PASSWORD:
            raise AuthenticationFailed(_BAD_LOGIN)
    account_ids = {c.account_id for c in credentials}
    if len(account_ids) > 1:
        raise AuthenticationFailed("credentials name two different accounts")
    if unconfirmed:
        views = {rt.authenticator.cached_view(c) for c in credentials}
        view = views.pop() if len(views) == 1 else None
        # Only a pass is taken on trust: a refusal is decided on the store's
        # current row below, since the account may have changed since.
        if (
            view is not None
            and not view.disabled
            and _network_allowed(view.allowed_networks, client_ip)
        ):
            for creds in credentials:
                _fresh_token(rt, creds)
            return view
    account_id = account_ids.pop()
    with transaction(rt.engine) as conn:
        row = repository.get_account(conn, account_id)
    for creds in {(c.account_id, c.password): c for c in credentials}.values():
        if not rt.authenticator.cached(row, creds):
            _check_password(rt, row, creds, client_ip)
    for creds in credentials:
        _fresh_token(rt, creds)
    assert row is not None
    return _allowed(account_view(row), client_ip)


def _check_password(
    rt: Runtime, row: AccountRecord | None, creds: Credentials, client_ip: str
) -> None:
    """The argon2 check, throttled by the failures counted in the store."""
    throttled_check(
        rt,
        creds.account_id,
        lambda: rt.authenticator.check(row, creds),
        client_ip,
        creds.method,
    )


def throttled_check(
    rt: Runtime, subject: str, check: Callable[[], bool], client_ip: str, method: str
) -> None:
    """Run `check` (an argon2 check) unless `subject` or the source failed too
    often lately; a failure is counted. Accounts and operators (whose
    `subject` no account id can equal) share the source's counter."""
    limit = rt.settings.login_failures_per_window
    source = source_key(client_ip)
    now = rt.now()
    failures = _failures(rt, subject, source, now)
    if failures.source >= limit or failures.pair >= limit:
        logger.warning("login throttled for %r from %s", subject, client_ip)
        # Same text: the caller learns nothing about the password.
        raise LoginThrottled(_BAD_LOGIN)
    if failures.account >= limit and _SLOWING.acquire(blocking=False):
        # Guessed at from many sources: slower, never refused.
        try:
            time.sleep(ACCOUNT_SLOWDOWN_SECONDS)
        finally:
            _SLOWING.release()
    if check():
        return
    logger.info(
        "authentication failed for %r via %s from %s", subject, method, client_ip
    )
    _record_failure(rt, subject, source, now)
    if failures.source + 1 >= limit or failures.pair + 1 >= limit:
        raise LoginThrottled(_BAD_LOGIN)
    raise AuthenticationFailed(_BAD_LOGIN)


def _allowed(view: AccountView, client_ip: str) -> AccountView:
    if view.disabled:
        raise AccessDenied("the account is disabled")
    if not _network_allowed(view.allowed_networks, client_ip):
        raise AccessDenied(
            f"requests from {client_ip} are not allowed for this account"
        )
    return view
