"""ClientReference makes SendMessage idempotent, also under concurrency."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

from sqlalchemy import func, select

from soapsms.store.db import transaction
from soapsms.store.models import Batch, Message
from soapsms.usecases import accounts
from tests.soap_helpers import AUTH, fault_code

MESSAGE = {
    "Text": "Disk full on db02",
    "RecipientsText": "+17036069996, +17036069997, bogus",
    "ClientReference": "INC-42",
}


def _counts(runtime) -> tuple[int, int]:
    with transaction(runtime.engine) as conn:
        return (
            conn.scalar(select(func.count()).select_from(Batch)),
            conn.scalar(select(func.count()).select_from(Message)),
        )


def test_replay_returns_the_first_answer_and_sends_nothing(client, account, runtime):
    first = client.service.SendMessage(Auth=AUTH, Message=MESSAGE)
    again = client.service.SendMessage(Auth=AUTH, Message=MESSAGE)
    assert again.BatchId == first.BatchId
    assert [m.MessageId for m in again.Messages.MessageReceipt] == [
        m.MessageId for m in first.Messages.MessageReceipt
    ]
    assert [m.Status for m in again.Messages.MessageReceipt] == ["QUEUED", "QUEUED"]
    assert [(r.Recipient, r.Reason) for r in again.Rejected.RejectedRecipient] == [
        ("bogus", "INVALID_NUMBER")
    ]
    assert _counts(runtime) == (1, 2)


def test_same_content_after_normalisation_is_a_replay(client, account):
    first = client.service.SendMessage(Auth=AUTH, Message=MESSAGE)
    spelled = {
        **MESSAGE,
        "RecipientsText": None,
        "Recipients": {"Recipient": ["1 703 606 9996", "+1-703-606-9997", "bogus"]},
        "Encoding": "auto",
    }
    assert (
        client.service.SendMessage(Auth=AUTH, Message=spelled).BatchId == first.BatchId
    )


def test_other_content_is_duplicate_reference(client, account, runtime):
    client.service.SendMessage(Auth=AUTH, Message=MESSAGE)
    code = fault_code(
        lambda: client.service.SendMessage(
            Auth=AUTH, Message={**MESSAGE, "Text": "other"}
        )
    )
    assert code == "Client.DuplicateReference"
    assert _counts(runtime) == (1, 2)


def test_replay_is_answered_before_credit_and_rate_checks(client, account, runtime):
    accounts.set_credits(runtime, "acme", balance=2)
    accounts.set_rate_limit(runtime, "acme", 2)
    first = client.service.SendMessage(Auth=AUTH, Message=MESSAGE)
    assert accounts.get(runtime, "acme").credits == 0
    again = client.service.SendMessage(Auth=AUTH, Message=MESSAGE)
    assert again.BatchId == first.BatchId


def test_references_are_per_account(client, account, runtime):
    accounts.create_account(runtime, "other", "pw-other")
    a = client.service.SendMessage(Auth=AUTH, Message=MESSAGE)
    b = client.service.SendMessage(
        Auth={"AccountId": "other", "Password": "pw-other"}, Message=MESSAGE
    )
    assert a.BatchId != b.BatchId


def test_parallel_identical_sends_make_one_batch(make_client, account, runtime):
    clients = [make_client() for _ in range(8)]

    def send(i: int) -> str:
        return clients[i % 8].service.SendMessage(Auth=AUTH, Message=MESSAGE).BatchId

    with ThreadPoolExecutor(max_workers=16) as pool:
        batch_ids = set(pool.map(send, range(32)))
    assert len(batch_ids) == 1
    assert _counts(runtime) == (1, 2)
