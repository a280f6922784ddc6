"""The console's message lookup across accounts and its retries of a
selection, through SOAP's and the CLI's use cases; both stores."""

from __future__ import annotations

import pytest
from sqlalchemy import update

from soapsms.errors import ValidationError
from soapsms.store import models
from soapsms.store.db import transaction
from soapsms.usecases import accounts, operations, operators
from soapsms.usecases.operators import Actor
from soapsms.usecases.runtime import Runtime
from tests.dispatch_helpers import send_to

OPERATOR = Actor("operator", "alice", "192.0.2.1")


@pytest.fixture
def two(runtime: Runtime) -> Runtime:
    accounts.create_account(runtime, "acme", "s3cret")
    accounts.create_account(runtime, "globex", "s3cret")
    accounts.set_fields(runtime, "globex", default_region="GB")
    return runtime


def test_lookup_finds_messages_whatever_their_account(two: Runtime) -> None:
    a = send_to(two, "acme", "+447700900123", client_reference="INC-1")
    g = send_to(two, "globex", "07700900123", "+17036069996", client_reference="INC-1")
    a_id = a.messages[0].message_id
    by_id = operations.lookup(two, message_id=a_id.lower())
    assert [(f.account_id, f.message.message_id) for f in by_id] == [("acme", a_id)]
    by_batch = operations.lookup(two, batch_id=g.batch_id)
    assert {f.account_id for f in by_batch} == {"globex"} and len(by_batch) == 2
    by_reference = operations.lookup(two, reference="INC-1")
    assert sorted(f.account_id for f in by_reference) == ["acme", "globex", "globex"]
    # The number as each account would write it: national in globex's GB.
    by_number = operations.lookup(two, number="+447700900123")
    assert sorted(f.account_id for f in by_number) == ["acme", "globex"]
    assert operations.lookup(two, message_id="01ARZ3NDEKTSV4RRFFQ69G5FAV") == []
    assert operations.lookup(two, reference="nothing") == []


@pytest.mark.parametrize(
    ("given", "error"),
    [
        ({}, "give one of"),
        ({"message_id": "x", "number": "+1"}, "give one of"),
        ({"message_id": "not-an-id"}, "is not a MessageId"),
        ({"batch_id": "nope"}, "is not a BatchId"),
        ({"number": "hello"}, "is not a valid number"),
    ],
)
def test_lookup_says_what_is_wrong(two: Runtime, given: dict, error: str) -> None:
    with pytest.raises(ValidationError, match=error):
        operations.lookup(two, **given)


def _fail(rt: Runtime, message_id: str, status: str = "FAILED") -> None:
    with transaction(rt.engine, write=True) as conn:
        conn.execute(
            update(models.Message)
            .where(models.Message.message_id == message_id)
            .values(status=status, error_code="ROUTING_ERROR")
        )


def test_retry_a_selection_across_accounts(two: Runtime) -> None:
    a = send_to(two, "acme", "+17036069996").messages[0].message_id
    g = send_to(two, "globex", "+17036069997").messages[0].message_id
    queued = send_to(two, "globex", "+17036069998").messages[0].message_id
    _fail(two, a)
    _fail(two, g, "EXPIRED")
    failed = operations.account_messages(two, "acme", "FAILED")
    assert [f.message.message_id for f in failed] == [a]
    # One message that may not be retried refuses the whole selection first.
    with pytest.raises(ValidationError, match="QUEUED"):
        operations.retry_selected(
            two, OPERATOR, [("acme", a), ("globex", g), ("globex", queued)]
        )
    assert operations.lookup(two, number="+17036069996")[0].message.message_id == a
    done = operations.retry_selected(two, OPERATOR, [("acme", a), ("globex", g)])
    assert [(old, state) for old, _new, state in done] == [
        (a, "QUEUED"),
        (g, "QUEUED"),
    ]
    entries = operators.audit_page(two)
    assert [(e.action, e.target) for e in entries] == [
        ("messages.retry", "globex"),
        ("messages.retry", "acme"),
    ]
    assert entries[1].detail == f"1 of 1 sent again: {a}"
    with pytest.raises(ValidationError, match="select at least one"):
        operations.retry_selected(two, OPERATOR, [])
