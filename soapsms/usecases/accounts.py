"""Account administration, as the operator's CLI drives it."""

from __future__ import annotations

import ipaddress
import json
import re
import secrets
from collections.abc import Sequence
from typing import Any

import phonenumbers

from soapsms.domain import phone
from soapsms.domain.sender import validate_sender
from soapsms.errors import AccountExists, AccountNotFound, ValidationError
from soapsms.store import repository
from soapsms.store.db import transaction
from soapsms.usecases.auth import account_view
from soapsms.usecases.results import AccountView
from soapsms.usecases.runtime import Runtime

# The column is a 32-bit INTEGER; a million a minute is no limit in practice.
MAX_RATE_PER_MINUTE = 1_000_000
_ACCOUNT_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$")
DEFAULT_MAX_RECIPIENTS = 10_000
# GetAccount reports credits as xs:int.
MAX_CREDITS = 2**31 - 1


def _check_password(password: str) -> None:
    if not 1 <= len(password) <= 128:
        raise ValidationError("a password must be 1 to 128 characters")


def create_account(
    rt: Runtime, account_id: str, password: str, name: str | None = None
) -> AccountView:
    if not _ACCOUNT_ID.fullmatch(account_id):  # `$` would admit a final "\n"
        raise ValidationError(
            "an account id is 1 to 64 characters: letters, digits and . _ @ - "
            "(starting with a letter or digit)"
        )
    _check_password(password)
    now = rt.now()
    password_hash = rt.authenticator.hash_password(password)
    with transaction(rt.engine, write=True) as conn:
        if repository.get_account(conn, account_id) is not None:
            raise AccountExists(f"account {account_id!r} already exists")
        repository.insert_account(
            conn,
            {
                "account_id": account_id,
                "name": name or account_id,
                "password_hash": password_hash,
                "disabled": False,
                "credits": None,
                "allowed_senders": "[]",
                "allowed_networks": "[]",
                "max_recipients": DEFAULT_MAX_RECIPIENTS,
                # Every callback is signed: the customer checks the signature
                # with this (`soapsms account create` shows it once).
                "callback_secret": secrets.token_urlsafe(32),
                "version": 1,
                "created_at": now,
                "updated_at": now,
            },
        )
        row = repository.get_account(conn, account_id)
    assert row is not None
    return account_view(row)


def get(rt: Runtime, account_id: str) -> AccountView:
    with transaction(rt.engine) as conn:
        row = repository.get_account(conn, account_id)
        if row is None:
            raise AccountNotFound(f"no account {account_id!r}")
        blocked = len(repository.list_blocked(conn, account_id))
    return account_view(row, blocked)


def list_all(rt: Runtime) -> list[AccountView]:
    with transaction(rt.engine) as conn:
        return [account_view(r) for r in repository.list_accounts(conn)]


def _update(rt: Runtime, account_id: str, values: dict[str, Any]) -> AccountView:
    with transaction(rt.engine, write=True) as conn:
        if not repository.update_account(conn, account_id, values, rt.now()):
            raise AccountNotFound(f"no account {account_id!r}")
        row = repository.get_account(conn, account_id)
        blocked = len(repository.list_blocked(conn, account_id))
    assert row is not None
    return account_view(row, blocked)


def set_password(rt: Runtime, account_id: str, password: str) -> AccountView:
    _check_password(password)
    return _update(
        rt, account_id, {"password_hash": rt.authenticator.hash_password(password)}
    )


def set_disabled(rt: Runtime, account_id: str, disabled: bool) -> AccountView:
    return _update(rt, account_id, {"disabled": disabled})


def set_fields(
    rt: Runtime,
    account_id: str,
    *,
    name: str | None = None,
    default_sender: str | None = None,
    allowed_senders: list[str] | None = None,
    max_recipients: int | None = None,
    default_region: str | None = None,
    callback_secret: str | None = None,
) -> AccountView:
    """Change the given settings; an empty string clears an optional one."""
    values: dict[str, Any] = {}
    if name is not None:
        if not name.strip():
            raise ValidationError("a name must not be empty")
        values["name"] = name.strip()
    if default_sender is not None:
        values["default_sender"] = (
            validate_sender(default_sender) if default_sender else None
        )
    if allowed_senders is not None:
        values["allowed_senders"] = json.dumps(
            [validate_sender(s) for s in allowed_senders]
        )
    if max_recipients is not None:
        if not 1 <= max_recipients <= DEFAULT_MAX_RECIPIENTS:
            raise ValidationError(
                f"max recipients must be 1 to {DEFAULT_MAX_RECIPIENTS}"
            )
        values["max_recipients"] = max_recipients
    if default_region is not None:
        region = default_region.strip().upper()
        if region and region not in phonenumbers.SUPPORTED_REGIONS:
            raise ValidationError(
                f"unknown region {default_region!r} (use e.g. US, GB)"
            )
        values["default_region"] = region or None
    if callback_secret is not None:
        values["callback_secret"] = callback_secret or None
    if not values:
        raise ValidationError("nothing to change")
    return _update(rt, account_id, values)


def _networks(networks: list[str]) -> list[str]:
    try:
        return [str(ipaddress.ip_network(n.strip(), strict=False)) for n in networks]
    except ValueError as exc:
        raise ValidationError(f"not a network: {exc}") from exc


def set_networks(rt: Runtime, account_id: str, networks: list[str]) -> AccountView:
    """Restrict the account to these CIDR networks; an empty list lifts it."""
    normalized = _networks(networks)
    return _update(rt, account_id, {"allowed_networks": json.dumps(normalized)})


def change_networks(
    rt: Runtime,
    account_id: str,
    *,
    add: Sequence[str] = (),
    remove: Sequence[str] = (),
) -> AccountView:
    """Add networks to the account's list, or remove them from it; removing
    the last one is refused (that would allow every network)."""
    current = list(get(rt, account_id).allowed_networks)
    for net in _networks(list(add)):
        if net not in current:
            current.append(net)
    gone = _networks(list(remove))
    missing = [net for net in gone if net not in current]
    if missing:
        raise ValidationError(f"not in the account's networks: {', '.join(missing)}")
    current = [net for net in current if net not in gone]
    if gone and not current:
        raise ValidationError(
            "removing the last network would allow any; say --any for that"
        )
    return _update(rt, account_id, {"allowed_networks": json.dumps(current)})


def delete_account(rt: Runtime, account_id: str) -> None:
    """Remove an account that has no messages; one with messages is kept for
    the retention period (disable it instead)."""
    with transaction(rt.engine, write=True) as conn:
        if repository.get_account(conn, account_id) is None:
            raise AccountNotFound(f"no account {account_id!r}")
        if repository.account_has_messages(conn, account_id):
            raise ValidationError(
                f"account {account_id!r} has messages, kept for the retention "
                f"period: disable it instead (soapsms account disable {account_id})"
            )
        repository.delete_account(conn, account_id)


def set_credits(
    rt: Runtime,
    account_id: str,
    *,
    balance: int | None = None,
    add: int | None = None,
    unlimited: bool = False,
) -> AccountView:
    if unlimited:
        return _update(rt, account_id, {"credits": None})
    if balance is not None:
        if not 0 <= balance <= MAX_CREDITS:
            raise ValidationError(f"a balance is 0 to {MAX_CREDITS}")
        return _update(rt, account_id, {"credits": balance})
    if add is None:
        raise ValidationError("give a balance, an amount to add, or unlimited")
    current = get(rt, account_id).credits
    if current is None:
        raise ValidationError(
            f"account {account_id!r} has unlimited credits: give it a balance "
            "with --set N first"
        )
    if not 0 <= current + add <= MAX_CREDITS:
        raise ValidationError(
            f"the balance {current} plus {add} would leave 0 to {MAX_CREDITS}; "
            "nothing changed"
        )
    return _update(rt, account_id, {"credits": current + add})


def set_rate_limit(rt: Runtime, account_id: str, per_minute: int | None) -> AccountView:
    if per_minute is not None and not 1 <= per_minute <= MAX_RATE_PER_MINUTE:
        raise ValidationError(
            f"a rate limit is 1 to {MAX_RATE_PER_MINUTE} messages per minute"
        )
    return _update(rt, account_id, {"rate_limit_per_minute": per_minute})


def _numbers(rt: Runtime, account_id: str, raw: list[str]) -> list[str]:
    region = get(rt, account_id).default_region
    numbers = []
    for entry in raw:
        number = phone.normalize(entry, region)
        if number is None:
            raise ValidationError(f"not a valid number: {entry!r}")
        numbers.append(number)
    return numbers


def block(rt: Runtime, account_id: str, raw: list[str]) -> int:
    numbers = _numbers(rt, account_id, raw)
    with transaction(rt.engine, write=True) as conn:
        return repository.add_blocked(conn, account_id, numbers)


def unblock(rt: Runtime, account_id: str, raw: list[str]) -> int:
    numbers = _numbers(rt, account_id, raw)
    with transaction(rt.engine, write=True) as conn:
        return repository.remove_blocked(conn, account_id, numbers)


def blocked_numbers(rt: Runtime, account_id: str) -> list[str]:
    with transaction(rt.engine) as conn:
        if repository.get_account(conn, account_id) is None:
            raise AccountNotFound(f"no account {account_id!r}")
        return repository.list_blocked(conn, account_id)


def callback_secret(rt: Runtime, account_id: str) -> str | None:
    """The key the account's status callbacks are signed with."""
    with transaction(rt.engine) as conn:
        row = repository.get_account(conn, account_id)
    if row is None:
        raise AccountNotFound(f"no account {account_id!r}")
    return row.callback_secret
