"""GetStatus, ListMessages, CancelMessage and GetAccount."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import text

from soapsms.usecases import accounts
from tests.soap_helpers import AUTH, fault_code

OTHER = {"AccountId": "other", "Password": "pw-other"}


def _send(client, numbers: str, auth=AUTH, **extra):
    return client.service.SendMessage(
        Auth=auth, Message={"Text": "hello", "RecipientsText": numbers, **extra}
    )


def _listed(page) -> list:
    """The page's messages; zeep turns an empty wrapper into None."""
    return list(page.Messages.MessageStatus) if page.Messages is not None else []


def test_get_status_by_ids_in_request_order_with_unknowns(client, account, runtime):
    accounts.create_account(runtime, "other", "pw-other")
    mine = _send(client, "+17036069996,+17036069997").Messages.MessageReceipt
    theirs = _send(client, "+17036069998", auth=OTHER).Messages.MessageReceipt
    ids = [
        mine[1].MessageId,
        "nonsense",
        theirs[0].MessageId,
        mine[0].MessageId,
        mine[1].MessageId,
    ]
    answer = client.service.GetStatus(Auth=AUTH, MessageIds={"MessageId": ids})
    assert [s.MessageId for s in answer] == ids[:4]
    assert [s.Status for s in answer] == ["QUEUED", "UNKNOWN", "UNKNOWN", "QUEUED"]
    unknown = answer[2]
    assert (
        unknown.Recipient is None
        and unknown.BatchId is None
        and unknown.CreatedAt is None
    )
    known = answer[0]
    assert known.Recipient == "+17036069997"
    assert known.Parts == 1 and known.PartsDelivered == 0
    assert known.CreatedAt.tzinfo is not None and known.UpdatedAt is not None


def test_get_status_by_batch_and_reference(client, account, runtime):
    accounts.create_account(runtime, "other", "pw-other")
    sent = _send(client, "+17036069996,+17036069997", ClientReference="REF-1")
    by_batch = client.service.GetStatus(Auth=AUTH, BatchId=sent.BatchId)
    by_ref = client.service.GetStatus(Auth=AUTH, ClientReference="REF-1")
    assert [s.MessageId for s in by_batch] == [
        m.MessageId for m in sent.Messages.MessageReceipt
    ]
    assert [s.MessageId for s in by_ref] == [s.MessageId for s in by_batch]
    assert by_ref[0].ClientReference == "REF-1" and by_ref[0].BatchId == sent.BatchId
    # An empty list arrives as an empty wrapper, which zeep hands back as None.
    assert client.service.GetStatus(Auth=OTHER, BatchId=sent.BatchId) is None
    assert client.service.GetStatus(Auth=OTHER, ClientReference="REF-1") is None
    narrowed = client.service.GetStatus(
        Auth=AUTH, BatchId="01ARZ3NDEKTSV4RRFFQ69G5FAV", ClientReference="REF-1"
    )
    assert narrowed is None


def test_get_status_reads_every_column_into_its_field(client, account, runtime):
    accounts.set_fields(runtime, "acme", default_sender="ACME")
    sent = _send(client, "+17036069996,+17036069997", ClientReference="INC-7")
    first, second = (m.MessageId for m in sent.Messages.MessageReceipt)
    submitted = datetime(2026, 3, 4, 5, 6, 7, 250000)
    done = datetime(2026, 3, 4, 5, 6, 9)
    with runtime.engine.begin() as conn:
        conn.execute(
            text(
                "UPDATE messages SET status = 'UNDELIVERED', sender = 'NOC',"
                " error_code = 'ABSENT_SUBSCRIBER', error_text = 'handset off',"
                " carrier_error = 'DLR err:027', parts = 2, parts_delivered = 1,"
                " submitted_at = :submitted, done_at = :done WHERE message_id = :id"
            ),
            {"submitted": submitted, "done": done, "id": first},
        )
    ids = {"MessageId": [first, second]}
    for answer in (
        list(client.service.GetStatus(Auth=AUTH, MessageIds=ids)),
        list(client.service.GetStatus(Auth=AUTH, ClientReference="INC-7")),
        [m for m in _listed(client.service.ListMessages(Auth=AUTH))][::-1],
    ):
        changed, queued = answer
        assert (changed.MessageId, changed.Status, changed.Sender) == (
            first,
            "UNDELIVERED",
            "NOC",
        )
        assert (changed.ErrorCode, changed.ErrorText, changed.CarrierError) == (
            "ABSENT_SUBSCRIBER",
            "handset off",
            "DLR err:027",
        )
        assert (changed.Parts, changed.PartsDelivered) == (2, 1)
        assert changed.SubmittedAt == submitted.replace(tzinfo=UTC)
        assert changed.DoneAt == done.replace(tzinfo=UTC)
        assert (changed.BatchId, changed.ClientReference, changed.Recipient) == (
            sent.BatchId,
            "INC-7",
            "+17036069996",
        )
        # No sender of its own: the account's default is shown.
        assert (queued.MessageId, queued.Status, queued.Sender) == (
            second,
            "QUEUED",
            "ACME",
        )
        assert queued.ErrorCode is None and queued.SubmittedAt is None
        assert queued.CreatedAt == changed.CreatedAt


def test_get_status_needs_a_selector_and_at_most_1000_ids(client, account):
    assert (
        fault_code(lambda: client.service.GetStatus(Auth=AUTH))
        == "Client.ValidationError"
    )
    ids = {"MessageId": [f"id{i}" for i in range(1001)]}
    assert (
        fault_code(lambda: client.service.GetStatus(Auth=AUTH, MessageIds=ids))
        == "Client.ValidationError"
    )


def test_list_messages_pages_newest_first(client, account, runtime):
    sent = []
    for i in range(5):
        sent.extend(
            m.MessageId
            for m in _send(client, f"+1703606999{i}").Messages.MessageReceipt
        )
    seen = []
    cursor = None
    while True:
        page = client.service.ListMessages(Auth=AUTH, Limit=2, Cursor=cursor)
        seen.extend(m.MessageId for m in page.Messages.MessageStatus)
        cursor = page.NextCursor
        if cursor is None:
            break
        # A message sent meanwhile does not disturb the pages already issued.
        if len(seen) == 2:
            _send(client, "+15550100100")
    assert seen == list(reversed(sent))


def test_list_messages_filters(client, account, runtime):
    _send(client, "+17036069996")
    target = _send(client, "+17036069997").Messages.MessageReceipt[0]
    page = client.service.ListMessages(Auth=AUTH, Recipient="1 703 606 9997")
    assert [m.MessageId for m in page.Messages.MessageStatus] == [target.MessageId]
    assert _listed(client.service.ListMessages(Auth=AUTH, Status="delivered")) == []
    assert len(_listed(client.service.ListMessages(Auth=AUTH, Status="QUEUED"))) == 2
    future = datetime.now(UTC) + timedelta(minutes=5)
    assert _listed(client.service.ListMessages(Auth=AUTH, Since=future)) == []
    assert len(_listed(client.service.ListMessages(Auth=AUTH, Until=future))) == 2
    for bad in (
        {"Status": "SENT"},
        # Limit 0 is a typed proxy's "not set", absent (test_soap_tolerances.py).
        {"Limit": -1},
        {"Limit": 1001},
        {"Recipient": "abc"},
    ):
        assert (
            fault_code(lambda bad=bad: client.service.ListMessages(Auth=AUTH, **bad))
            == "Client.ValidationError"
        ), bad


def _altered(cursor: str) -> str:
    """The cursor with one signature character changed (always a change: a
    fixed replacement could equal what was there)."""
    i = len(cursor) - 5
    return cursor[:i] + ("B" if cursor[i] == "A" else "A") + cursor[i + 1 :]


def test_cursor_is_bound_to_filters_and_account(client, account, runtime):
    accounts.create_account(runtime, "other", "pw-other")
    for i in range(3):
        _send(client, f"+1703606999{i}")
    cursor = client.service.ListMessages(Auth=AUTH, Limit=1).NextCursor
    assert cursor
    for call in (
        lambda: client.service.ListMessages(
            Auth=AUTH, Limit=1, Cursor=cursor, Status="QUEUED"
        ),
        lambda: client.service.ListMessages(Auth=OTHER, Limit=1, Cursor=cursor),
        lambda: client.service.ListMessages(Auth=AUTH, Cursor=_altered(cursor)),
        lambda: client.service.ListMessages(Auth=AUTH, Cursor="garbage"),
    ):
        assert fault_code(call) == "Client.ValidationError"


def test_cancel_queued_refunds_and_repeats_the_same(client, account, runtime):
    accounts.set_credits(runtime, "acme", balance=10)
    sent = _send(client, "+17036069996,+17036069997", ClientReference="C-1")
    assert accounts.get(runtime, "acme").credits == 8
    first = client.service.CancelMessage(Auth=AUTH, ClientReference="C-1")
    assert [s.Status for s in first] == ["CANCELLED", "CANCELLED"]
    assert first[0].DoneAt is not None
    assert accounts.get(runtime, "acme").credits == 10
    again = client.service.CancelMessage(Auth=AUTH, BatchId=sent.BatchId)
    assert [s.MessageId for s in again] == [s.MessageId for s in first]
    assert accounts.get(runtime, "acme").credits == 10
    status = client.service.GetStatus(Auth=AUTH, BatchId=sent.BatchId)
    assert {s.Status for s in status} == {"CANCELLED"}


def test_cancel_leaves_leased_and_foreign_messages(client, account, runtime):
    from sqlalchemy import update

    from soapsms.store.db import transaction
    from soapsms.store.models import Message

    accounts.create_account(runtime, "other", "pw-other")
    mine = _send(client, "+17036069996,+17036069997").Messages.MessageReceipt
    theirs = _send(client, "+17036069998", auth=OTHER).Messages.MessageReceipt
    with transaction(runtime.engine, write=True) as conn:
        conn.execute(
            update(Message)
            .where(Message.message_id == mine[0].MessageId)
            .values(
                lease_owner="dispatcher-1",
                lease_until=datetime.now(UTC).replace(tzinfo=None)
                + timedelta(minutes=1),
            )
        )
    ids = [mine[0].MessageId, mine[1].MessageId, theirs[0].MessageId]
    result = client.service.CancelMessage(Auth=AUTH, MessageIds={"MessageId": ids})
    assert [s.MessageId for s in result] == [mine[1].MessageId]
    answer = client.service.GetStatus(
        Auth=OTHER, MessageIds={"MessageId": [theirs[0].MessageId]}
    )
    assert answer[0].Status == "QUEUED"


def test_get_account(client, account, runtime):
    info = client.service.GetAccount(Auth=AUTH)
    assert (info.AccountId, info.Name, info.Credits, info.MaxRecipientsPerRequest) == (
        "acme",
        "ACME Corp",
        None,
        10000,
    )
    assert info.RateLimitPerMinute is None
    accounts.set_credits(runtime, "acme", balance=500)
    accounts.set_rate_limit(runtime, "acme", 60)
    accounts.set_fields(runtime, "acme", default_sender="ACME")
    info = client.service.GetAccount(Auth=AUTH)
    assert (info.Credits, info.RateLimitPerMinute, info.DefaultSender) == (
        500,
        60,
        "ACME",
    )
