"""Authentication: argon2 passwords, a short credential cache, failure throttling.

Every SOAP call carries credentials and argon2 is deliberately slow, so a
verified (account, password) pair is remembered for a short while, keyed by
a keyed hash (never the password) and valid only while the account's
`version` in the store is unchanged: a password change or a disable takes
effect at once on every worker (SendMessage confirms the version in its own
write transaction instead of reading it first). Failed logins are counted
per source address and per account; past the limit we refuse without
hashing, so wrong passwords cannot burn the CPU.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import json
import logging
import os
import threading
import time
from collections import deque
from typing import Any

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from sqlalchemy import Row

from soapsms.config import Settings
from soapsms.errors import (
    AccessDenied,
    AuthenticationFailed,
    LoginThrottled,
    NoCredentials,
)
from soapsms.store import repository
from soapsms.store.db import transaction
from soapsms.usecases.results import AccountView, Credentials
from soapsms.usecases.runtime import Runtime

logger = logging.getLogger(__name__)

_BAD_LOGIN = "unknown account or wrong password"


class Authenticator:
    """Per-process login state: password hasher, cache and failure counters."""

    def __init__(self, settings: Settings) -> None:
        self.hasher = PasswordHasher(
            time_cost=settings.argon2_time_cost,
            memory_cost=settings.argon2_memory_kib,
            parallelism=settings.argon2_parallelism,
        )
        self._ttl = settings.credential_cache_seconds
        self._max_failures = settings.login_failures_per_window
        self._window = settings.login_failure_window_seconds
        self._key = os.urandom(32)
        # key -> (the account's version, expiry, its view at that version)
        self._cache: dict[bytes, tuple[int, float, AccountView]] = {}
        self._failures: dict[str, deque[float]] = {}
        self._lock = threading.Lock()
        self._dummy_hash: str | None = None

    def hash_password(self, password: str) -> str:
        return self.hasher.hash(password)

    def _cache_key(self, account_id: str, password: str) -> bytes:
        return hmac.digest(
            self._key, f"{account_id}\0{password}".encode(), hashlib.sha256
        )

    def _throttled(self, keys: list[str], now: float) -> bool:
        with self._lock:
            for key in keys:
                times = self._failures.get(key)
                if times is None:
                    continue
                while times and times[0] < now - self._window:
                    times.popleft()
                if len(times) >= self._max_failures:
                    return True
        return False

    def _record_failure(self, keys: list[str], now: float) -> None:
        with self._lock:
            if len(self._failures) > 100_000:
                self._failures.clear()  # a flood of distinct keys must not eat memory
            for key in keys:
                self._failures.setdefault(key, deque()).append(now)

    def _verify(self, password_hash: str | None, password: str) -> bool:
        if password_hash is None:
            # An unknown account costs the same as a wrong password.
            if self._dummy_hash is None:
                self._dummy_hash = self.hasher.hash(os.urandom(16).hex())
            password_hash = self._dummy_hash
            password = ""
        try:
            return bool(self.hasher.verify(password_hash, password)) and password != ""
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            return False

    def check(self, row: Row[Any] | None, creds: Credentials, client_ip: str) -> bool:
        """True when `creds` match `row` (None: unknown account)."""
        now = time.monotonic()
        keys = _throttle_keys(creds.account_id, client_ip)
        if self._throttled(keys, now):
            logger.warning(
                "login throttled for account %r from %s", creds.account_id, client_ip
            )
            return False
        key = self._cache_key(creds.account_id, creds.password)
        if row is not None:
            with self._lock:
                hit = self._cache.get(key)
            if hit is not None and hit[0] == row.version and hit[1] > now:
                return True
        ok = self._verify(
            row.password_hash if row is not None else None, creds.password
        )
        if ok and row is not None:
            with self._lock:
                if len(self._cache) > 10_000:
                    self._cache.clear()
                self._cache[key] = (row.version, now + self._ttl, account_view(row))
        else:
            self._record_failure(keys, now)
        return ok

    def cached_view(self, creds: Credentials, client_ip: str) -> AccountView | None:
        """The account as it was when these credentials last passed, if that
        is recent; its `version` must still be the store's for this to count."""
        now = time.monotonic()
        if self._throttled(_throttle_keys(creds.account_id, client_ip), now):
            return None
        with self._lock:
            hit = self._cache.get(self._cache_key(creds.account_id, creds.password))
        if hit is None or hit[1] <= now:
            return None
        return hit[2]

    def throttled(self, account_id: str, client_ip: str) -> bool:
        """Whether logins for this account or from this source are refused
        unchecked right now."""
        return self._throttled(_throttle_keys(account_id, client_ip), time.monotonic())


def _throttle_keys(account_id: str, client_ip: str) -> list[str]:
    """Failures count per source address and per account."""
    return [f"ip:{client_ip}", f"acct:{account_id}"]


def account_view(row: Row[Any], blocked_count: int = 0) -> AccountView:
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
    account_ids = {c.account_id for c in credentials}
    if len(account_ids) > 1:
        raise AuthenticationFailed("credentials name two different accounts")
    if unconfirmed:
        views = {rt.authenticator.cached_view(c, client_ip) for c in credentials}
        view = views.pop() if len(views) == 1 else None
        # Only a pass is taken on trust: a refusal is decided on the store's
        # current row below, since the account may have changed since.
        if (
            view is not None
            and not view.disabled
            and _network_allowed(view.allowed_networks, client_ip)
        ):
            return view
    account_id = account_ids.pop()
    with transaction(rt.engine) as conn:
        row = repository.get_account(conn, account_id)
    for creds in {(c.account_id, c.password): c for c in credentials}.values():
        if not rt.authenticator.check(row, creds, client_ip):
            logger.info(
                "authentication failed for %r via %s from %s",
                creds.account_id,
                creds.method,
                client_ip,
            )
            if rt.authenticator.throttled(creds.account_id, client_ip):
                # Same text: the caller learns nothing about the password.
                raise LoginThrottled(_BAD_LOGIN)
            raise AuthenticationFailed(_BAD_LOGIN)
    assert row is not None
    return _allowed(account_view(row), client_ip)


def _allowed(view: AccountView, client_ip: str) -> AccountView:
    if view.disabled:
        raise AccessDenied("the account is disabled")
    if not _network_allowed(view.allowed_networks, client_ip):
        raise AccessDenied(
            f"requests from {client_ip} are not allowed for this account"
        )
    return view
