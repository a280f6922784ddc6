"""SendMessage through a zeep client built from the served WSDL."""

from __future__ import annotations

import re

from sqlalchemy import func, select

from soapsms.store.db import transaction
from soapsms.store.models import Batch, Message
from soapsms.usecases import accounts
from tests.soap_helpers import AUTH, fault_code


def _count(runtime, model=Message) -> int:
    with transaction(runtime.engine) as conn:
        return conn.scalar(select(func.count()).select_from(model))


def test_send_two_recipients_normalises_and_queues(client, account, runtime):
    result = client.service.SendMessage(
        Auth=AUTH,
        Message={
            "Text": "Server web01 is down",
            "Recipients": {"Recipient": ["+17036069996", "17036069997"]},
            "ClientReference": "INC000123",
        },
    )
    assert result.AcceptedCount == 2
    assert result.RejectedCount == 0
    assert result.ClientReference == "INC000123"
    assert re.fullmatch(r"[0-9A-Z]{26}", result.BatchId)
    receipts = result.Messages.MessageReceipt
    assert [m.Recipient for m in receipts] == ["+17036069996", "+17036069997"]
    assert {m.Status for m in receipts} == {"QUEUED"}
    assert {m.Parts for m in receipts} == {1}
    assert {m.Encoding for m in receipts} == {"GSM7"}
    assert receipts[0].MessageId < receipts[1].MessageId  # time-ordered ids
    assert _count(runtime) == 2


def test_rejections_keep_input_order_with_reasons(client, account, runtime):
    accounts.block(runtime, "acme", ["+447700900999"])
    result = client.service.SendMessage(
        Auth=AUTH,
        Message={
            "Text": "hello",
            "Recipients": {
                "Recipient": ["+44 7700 900123", "not a number", "0044 7700 900123"]
            },
            "RecipientsText": "+447700900999;\n +1 (555) 010-0199 ,",
        },
    )
    assert [m.Recipient for m in result.Messages.MessageReceipt] == [
        "+447700900123",
        "+15550100199",
    ]
    assert [(r.Recipient, r.Reason) for r in result.Rejected.RejectedRecipient] == [
        ("not a number", "INVALID_NUMBER"),
        ("0044 7700 900123", "DUPLICATE"),
        ("+447700900999", "BLOCKED"),
    ]
    assert (result.AcceptedCount, result.RejectedCount) == (2, 3)


def test_unicode_text_is_ucs2_with_part_count(client, account):
    text = "Привет " * 12  # 84 UTF-16 units: two UCS-2 parts
    result = client.service.SendMessage(
        Auth=AUTH, Message={"Text": text, "RecipientsText": "+17036069996"}
    )
    receipt = result.Messages.MessageReceipt[0]
    assert (receipt.Encoding, receipt.Parts) == ("UCS2", 2)


def test_no_valid_recipient_is_a_fault_and_stores_nothing(client, account, runtime):
    code = fault_code(
        lambda: client.service.SendMessage(
            Auth=AUTH, Message={"Text": "x", "Recipients": {"Recipient": ["abc", "12"]}}
        )
    )
    assert code == "Client.InvalidRecipient"
    assert _count(runtime) == 0
    assert _count(runtime, Batch) == 0


def test_no_recipient_at_all_is_validation_error(client, account):
    assert (
        fault_code(lambda: client.service.SendMessage(Auth=AUTH, Message={"Text": "x"}))
        == "Client.ValidationError"
    )


def test_too_many_recipients(client, account, runtime):
    accounts.set_fields(runtime, "acme", max_recipients=3)
    numbers = ",".join(f"+1703606999{i}" for i in range(4))
    code = fault_code(
        lambda: client.service.SendMessage(
            Auth=AUTH, Message={"Text": "x", "RecipientsText": numbers}
        )
    )
    assert code == "Client.TooManyRecipients"
    assert _count(runtime) == 0


def test_message_too_long(client, account):
    code = fault_code(
        lambda: client.service.SendMessage(
            Auth=AUTH, Message={"Text": "a" * 1531, "RecipientsText": "+17036069996"}
        )
    )
    assert code == "Client.MessageTooLong"


def test_forced_gsm7_on_cyrillic_is_validation_error(client, account):
    code = fault_code(
        lambda: client.service.SendMessage(
            Auth=AUTH,
            Message={
                "Text": "Привет",
                "RecipientsText": "+17036069996",
                "Encoding": "gsm7",
            },
        )
    )
    assert code == "Client.ValidationError"


def test_invalid_sender_and_allowed_senders(client, account, runtime):
    code = fault_code(
        lambda: client.service.SendMessage(
            Auth=AUTH,
            Message={
                "Text": "x",
                "RecipientsText": "+17036069996",
                "Sender": "TooLongSender1",
            },
        )
    )
    assert code == "Client.InvalidSender"
    accounts.set_fields(runtime, "acme", allowed_senders=["ACME"])
    code = fault_code(
        lambda: client.service.SendMessage(
            Auth=AUTH,
            Message={"Text": "x", "RecipientsText": "+17036069996", "Sender": "Other"},
        )
    )
    assert code == "Client.InvalidSender"
    ok = client.service.SendMessage(
        Auth=AUTH,
        Message={"Text": "x", "RecipientsText": "+17036069996", "Sender": "ACME"},
    )
    assert ok.AcceptedCount == 1


def test_out_of_range_fields_are_validation_errors(client, account):
    base = {"Text": "x", "RecipientsText": "+17036069996"}
    for extra in (
        # 0 is a typed proxy's "not set", absent (tests/test_soap_tolerances.py).
        {"ValidityMinutes": -1},
        {"ValidityMinutes": 10081},
        {"Encoding": "EBCDIC"},
        {"ClientReference": "r" * 256},
        {"StatusCallbackUrl": "ftp://example.com/x"},
        {"StatusCallbackUrl": "http://127.0.0.1:9/cb"},
        {"StatusCallbackUrl": "http://10.1.2.3/cb"},
    ):
        code = fault_code(
            lambda extra=extra: client.service.SendMessage(
                Auth=AUTH, Message={**base, **extra}
            )
        )
        assert code == "Client.ValidationError", extra


def test_scheduled_message_is_scheduled(client, account):
    from datetime import UTC, datetime, timedelta

    later = datetime.now(UTC) + timedelta(hours=2)
    result = client.service.SendMessage(
        Auth=AUTH,
        Message={"Text": "x", "RecipientsText": "+17036069996", "ScheduledFor": later},
    )
    assert result.Messages.MessageReceipt[0].Status == "SCHEDULED"
    status = client.service.GetStatus(Auth=AUTH, BatchId=result.BatchId)[0]
    assert abs((status.ScheduledFor - later).total_seconds()) < 0.002
    code = fault_code(
        lambda: client.service.SendMessage(
            Auth=AUTH,
            Message={
                "Text": "x",
                "RecipientsText": "+17036069996",
                "ScheduledFor": datetime.now(UTC) + timedelta(days=366),
            },
        )
    )
    assert code == "Client.ValidationError"
