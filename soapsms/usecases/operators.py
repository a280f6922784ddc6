"""Operators (who run the gateway through /admin) and the audit trail.

Operators are not accounts: they have no messages, credits or SOAP access,
and an account's password never opens the console. Their logins go through
SOAP's argon2 hasher and failure throttle. Every change an operator makes,
from the console or the CLI, is written to the audit with who, when, what
and from where.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar

from soapsms.errors import OperatorExists, OperatorNotFound, ValidationError
from soapsms.store import operators as q
from soapsms.store.db import transaction
from soapsms.usecases.auth import MAX_PASSWORD, throttled_check
from soapsms.usecases.runtime import Runtime

logger = logging.getLogger(__name__)

T = TypeVar("T")

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$")
AUDIT_PAGE = 100
# The throttle's counters are keyed by subject; no account id has a colon.
_SUBJECT = "operator:"


@dataclass(frozen=True)
class Actor:
    """Who does something, for the audit: an operator in the console, an
    account in its portal, or the CLI (the OS user)."""

    kind: str  # operator | account | cli
    name: str
    source: str | None = None  # client address, or "cli"


@dataclass(frozen=True)
class OperatorView:
    name: str
    disabled: bool
    version: int
    created_at: datetime

    @property
    def stamp(self) -> str:
        """What a session keeps: any change to the operator changes it."""
        return str(self.version)


# One audit entry, as the store keeps it.
AuditEntry = q.AuditRow


def _view(row: q.OperatorRow) -> OperatorView:
    return OperatorView(row.name, row.disabled, row.version, row.created_at)


def _check_password(password: str) -> None:
    if not 8 <= len(password) <= MAX_PASSWORD:
        raise ValidationError(
            f"an operator's password is 8 to {MAX_PASSWORD} characters"
        )


def audit_row(
    rt: Runtime,
    actor: Actor,
    action: str,
    target: str | None,
    detail: str | None = None,
) -> dict[str, Any]:
    """The audit row for `action`, to write in the change's own transaction."""
    return {
        "at": rt.now(),
        "actor_kind": actor.kind,
        "actor": actor.name[:64],
        "action": action,
        "target": target[:200] if target else target,
        "detail": detail[:500] if detail else detail,
        "source": actor.source[:64] if actor.source else actor.source,
    }


def record(
    rt: Runtime,
    actor: Actor,
    action: str,
    target: str | None,
    detail: str | None = None,
) -> None:
    """Write one audit entry in a transaction of its own (after a change made
    by a use case that owns its transaction)."""
    with transaction(rt.engine, write=True) as conn:
        q.add_audit(conn, audit_row(rt, actor, action, target, detail))
    logger.info("audit: %s %s %s %s", actor.name, action, target or "-", detail or "")


def create(rt: Runtime, actor: Actor, name: str, password: str) -> OperatorView:
    if not _NAME.match(name):
        raise ValidationError(
            "an operator name is 1 to 64 characters: letters, digits and . _ @ - "
            "(starting with a letter or digit)"
        )
    _check_password(password)
    password_hash = rt.authenticator.hash_password(password)
    now = rt.now()
    with transaction(rt.engine, write=True) as conn:
        if q.get_operator(conn, name) is not None:
            raise OperatorExists(f"operator {name!r} already exists")
        q.insert_operator(
            conn,
            {
                "name": name,
                "password_hash": password_hash,
                "disabled": False,
                "version": 1,
                "created_at": now,
                "updated_at": now,
            },
        )
        q.add_audit(conn, audit_row(rt, actor, "operator.create", name))
        row = q.get_operator(conn, name)
    assert row is not None
    return _view(row)


def list_all(rt: Runtime) -> list[OperatorView]:
    with transaction(rt.engine) as conn:
        return [_view(r) for r in q.list_operators(conn)]


def _change(
    rt: Runtime, actor: Actor, name: str, values: dict[str, Any], action: str
) -> OperatorView:
    with transaction(rt.engine, write=True) as conn:
        if not q.update_operator(conn, name, values, rt.now()):
            raise OperatorNotFound(f"no operator {name!r}")
        q.add_audit(conn, audit_row(rt, actor, action, name))
        row = q.get_operator(conn, name)
    assert row is not None
    return _view(row)


def set_disabled(rt: Runtime, actor: Actor, name: str, disabled: bool) -> OperatorView:
    """Disable (its sessions end at once) or enable an operator."""
    action = "operator.disable" if disabled else "operator.enable"
    return _change(rt, actor, name, {"disabled": disabled}, action)


def set_password(rt: Runtime, actor: Actor, name: str, password: str) -> OperatorView:
    _check_password(password)
    values = {"password_hash": rt.authenticator.hash_password(password)}
    return _change(rt, actor, name, values, "operator.password")


def login(rt: Runtime, name: str, password: str, client_ip: str) -> OperatorView:
    """The operator these credentials name, through SOAP's throttle; raises
    AuthenticationFailed (or LoginThrottled) alike for a wrong name, a wrong
    password or a disabled operator, and audits a successful login."""
    name = name.strip()
    if len(name) > 64 or len(password) > MAX_PASSWORD:
        name, password = "-", ""  # checked anyway, so size buys nothing
    with transaction(rt.engine) as conn:
        row = q.get_operator(conn, name)
    usable = row if row is not None and not row.disabled else None
    throttled_check(
        rt,
        _SUBJECT + name,
        lambda: rt.authenticator.verify(
            usable.password_hash if usable else None, password
        ),
        client_ip,
        "console",
    )
    assert usable is not None
    record(rt, Actor("operator", usable.name, client_ip), "operator.login", None)
    return _view(usable)


def session_operator(rt: Runtime, name: str, stamp: str) -> OperatorView | None:
    """The operator a session names while unchanged since its login (the
    session's `stamp`): a disable or a new password ends it."""
    with transaction(rt.engine) as conn:
        row = q.get_operator(conn, name)
    if row is None or row.disabled:
        return None
    view = _view(row)
    return view if view.stamp == stamp else None


def audit_page(
    rt: Runtime,
    *,
    before_id: int | None = None,
    actor: str | None = None,
    target: str | None = None,
    limit: int = AUDIT_PAGE,
) -> list[AuditEntry]:
    """The audit, newest first; `before_id` pages on from an entry's id."""
    if not 1 <= limit <= 1000:
        raise ValidationError("a page is 1 to 1000 entries")
    with transaction(rt.engine) as conn:
        return q.list_audit(
            conn,
            before_id=before_id,
            limit=limit,
            actor=actor.strip() or None if actor else None,
            target=target.strip() or None if target else None,
        )


def audited(
    rt: Runtime,
    actor: Actor,
    action: str,
    target: str | None,
    change: Callable[[], T],
    detail: str | None = None,
) -> T:
    """Make a change through a use case that owns its transaction (accounts,
    retries), then audit it; a change that fails is not audited."""
    result = change()
    record(rt, actor, action, target, detail)
    return result
