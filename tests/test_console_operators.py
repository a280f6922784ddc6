"""Operators and the audit: created, listed, disabled, logged in through
SOAP's throttle, sessions ended by a change; on SQLite and PostgreSQL."""

from __future__ import annotations

import pytest

from soapsms.errors import (
    AuthenticationFailed,
    LoginThrottled,
    OperatorExists,
    OperatorNotFound,
    ValidationError,
)
from soapsms.usecases import accounts, operators
from soapsms.usecases.operators import Actor
from soapsms.usecases.runtime import Runtime

CLI = Actor("cli", "root", "cli")


def test_create_list_disable_and_audit(runtime: Runtime) -> None:
    created = operators.create(runtime, CLI, "alice", "correct horse")
    assert (created.name, created.disabled) == ("alice", False)
    with pytest.raises(OperatorExists):
        operators.create(runtime, CLI, "alice", "another one")
    with pytest.raises(ValidationError, match="8 to 128"):
        operators.create(runtime, CLI, "bob", "short")
    with pytest.raises(ValidationError, match="operator name"):
        operators.create(runtime, CLI, "no spaces", "long enough")
    operators.set_disabled(runtime, CLI, "alice", True)
    assert [(o.name, o.disabled) for o in operators.list_all(runtime)] == [
        ("alice", True)
    ]
    with pytest.raises(OperatorNotFound):
        operators.set_disabled(runtime, CLI, "nobody", True)
    entries = operators.audit_page(runtime)
    assert [(e.actor_kind, e.actor, e.action, e.target, e.source) for e in entries] == [
        ("cli", "root", "operator.disable", "alice", "cli"),
        ("cli", "root", "operator.create", "alice", "cli"),
    ]
    older = operators.audit_page(runtime, before_id=entries[0].id)
    assert [e.action for e in older] == ["operator.create"]
    assert operators.audit_page(runtime, actor="someone else") == []


def test_login_session_and_throttle(runtime: Runtime) -> None:
    operators.create(runtime, CLI, "alice", "correct horse")
    view = operators.login(runtime, "alice", "correct horse", "192.0.2.1")
    assert operators.session_operator(runtime, "alice", view.stamp) == view
    with pytest.raises(AuthenticationFailed):
        operators.login(runtime, "alice", "wrong", "192.0.2.1")
    with pytest.raises(AuthenticationFailed):
        operators.login(runtime, "nobody", "correct horse", "192.0.2.1")
    # A change (here a disable) ends the session; a disabled one cannot log in.
    operators.set_disabled(runtime, CLI, "alice", True)
    assert operators.session_operator(runtime, "alice", view.stamp) is None
    with pytest.raises(AuthenticationFailed):
        operators.login(runtime, "alice", "correct horse", "192.0.2.1")
    operators.set_disabled(runtime, CLI, "alice", False)
    logins = [e for e in operators.audit_page(runtime) if e.action == "operator.login"]
    assert [(e.actor, e.source) for e in logins] == [("alice", "192.0.2.1")]


def test_operator_failures_count_against_the_source_like_soap(
    runtime: Runtime,
) -> None:
    operators.create(runtime, CLI, "alice", "correct horse")
    accounts.create_account(runtime, "acme", "s3cret")
    limit = runtime.settings.login_failures_per_window
    for _ in range(limit):
        with pytest.raises(AuthenticationFailed):
            operators.login(runtime, "alice", "wrong", "198.51.100.7")
    # The source is throttled now: for the operator, even with its password...
    with pytest.raises(LoginThrottled):
        operators.login(runtime, "alice", "correct horse", "198.51.100.7")
    # ...and for SOAP logins from there (one throttle).
    from soapsms.usecases.auth import authenticate
    from soapsms.usecases.requests import Credentials

    with pytest.raises(LoginThrottled):
        authenticate(runtime, [Credentials("acme", "s3cret", "body")], "198.51.100.7")
    # Another source is not affected.
    assert operators.login(runtime, "alice", "correct horse", "203.0.113.9")


def test_audited_change_is_recorded_only_when_it_succeeds(runtime: Runtime) -> None:
    accounts.create_account(runtime, "acme", "s3cret")
    actor = Actor("operator", "alice", "192.0.2.1")
    operators.audited(
        runtime,
        actor,
        "account.credits",
        "acme",
        lambda: accounts.set_credits(runtime, "acme", balance=50),
        "set 50",
    )
    with pytest.raises(ValidationError):
        operators.audited(
            runtime,
            actor,
            "account.credits",
            "acme",
            lambda: accounts.set_credits(runtime, "acme", balance=-1),
            "set -1",
        )
    assert [(e.action, e.detail) for e in operators.audit_page(runtime)] == [
        ("account.credits", "set 50")
    ]
