"""Credits and the per-minute rate limit, kept in the store."""

from __future__ import annotations

from sqlalchemy import func, select

from soapsms.store.db import transaction
from soapsms.store.models import Message
from soapsms.usecases import accounts
from tests.soap_helpers import AUTH, fault_code


def _stored(runtime) -> int:
    with transaction(runtime.engine) as conn:
        return conn.scalar(select(func.count()).select_from(Message))


def test_credits_cover_all_parts_or_nothing_is_stored(client, account, runtime):
    accounts.set_credits(runtime, "acme", balance=5)
    two_parts = "x" * 200
    ok = client.service.SendMessage(
        Auth=AUTH,
        Message={"Text": two_parts, "RecipientsText": "+17036069996,+17036069997"},
    )
    assert ok.AcceptedCount == 2
    assert accounts.get(runtime, "acme").credits == 1
    code = fault_code(
        lambda: client.service.SendMessage(
            Auth=AUTH, Message={"Text": two_parts, "RecipientsText": "+17036069998"}
        )
    )
    assert code == "Client.InsufficientCredit"
    assert accounts.get(runtime, "acme").credits == 1
    assert _stored(runtime) == 2


def test_rate_limit_refuses_the_whole_call(client, account, runtime):
    accounts.set_rate_limit(runtime, "acme", 3)
    client.service.SendMessage(
        Auth=AUTH, Message={"Text": "a", "RecipientsText": "+17036069996,+17036069997"}
    )
    code = fault_code(
        lambda: client.service.SendMessage(
            Auth=AUTH,
            Message={"Text": "b", "RecipientsText": "+17036069998,+17036069999"},
        )
    )
    assert code == "Client.RateLimited"
    assert _stored(runtime) == 2
    one_more = client.service.SendMessage(
        Auth=AUTH, Message={"Text": "c", "RecipientsText": "+17036069998"}
    )
    assert one_more.AcceptedCount == 1
    # Reads do not count against the limit.
    client.service.GetStatus(Auth=AUTH, BatchId=one_more.BatchId)
    client.service.GetAccount(Auth=AUTH)


def test_rate_window_slides(client, account, runtime, monkeypatch):
    from datetime import timedelta

    accounts.set_rate_limit(runtime, "acme", 1)
    start = runtime.now()
    monkeypatch.setattr(runtime, "clock", lambda: start)
    client.service.SendMessage(
        Auth=AUTH, Message={"Text": "a", "RecipientsText": "+17036069996"}
    )
    monkeypatch.setattr(runtime, "clock", lambda: start + timedelta(seconds=30))
    assert (
        fault_code(
            lambda: client.service.SendMessage(
                Auth=AUTH, Message={"Text": "b", "RecipientsText": "+17036069997"}
            )
        )
        == "Client.RateLimited"
    )
    monkeypatch.setattr(runtime, "clock", lambda: start + timedelta(seconds=61))
    ok = client.service.SendMessage(
        Auth=AUTH, Message={"Text": "c", "RecipientsText": "+17036069997"}
    )
    assert ok.AcceptedCount == 1


def test_store_unreachable_is_server_unavailable(
    make_client, account, runtime, monkeypatch
):
    from soapsms.store.db import make_engine

    client = make_client()
    client.service.GetAccount(Auth=AUTH)  # credentials now cached
    broken = make_engine("postgresql://nobody@127.0.0.1:1/none")
    monkeypatch.setattr(runtime, "engine", broken)
    code = fault_code(
        lambda: client.service.SendMessage(
            Auth=AUTH, Message={"Text": "a", "RecipientsText": "+17036069996"}
        )
    )
    assert code == "Server.Unavailable"
