"""The hand-written serialiser writes what Spyne writes, and the schema accepts it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from lxml import etree
from spyne.protocol.soap import Soap11, Soap12
from spyne.server.null import NullServer

from soapsms.domain.timestamps import format_utc
from soapsms.soap import types as t
from soapsms.soap import writer
from soapsms.soap.app import build_application
from soapsms.soap.wsdl import build as build_wsdl
from soapsms.usecases import results as r

WSDL = "http://schemas.xmlsoap.org/wsdl/"
XS = "http://www.w3.org/2001/XMLSchema"

WHEN = datetime(2026, 11, 26, 9, 30, 5, 123000)

STATUSES = [
    r.MessageStatus(message_id="01J0000000000000000000000Z", status="UNKNOWN"),
    r.MessageStatus(
        message_id="01J0000000000000000000000A",
        status="UNDELIVERED",
        batch_id="01J00000000000000000000000",
        client_reference="INC <&> 1",
        recipient="+17036069996",
        sender="ACME",
        error_code="ABSENT_SUBSCRIBER",
        error_text="handset off & away",
        carrier_error="stat:UNDELIV err:001",
        parts=2,
        parts_delivered=1,
        created_at=WHEN,
        scheduled_for=WHEN.replace(microsecond=0),
        submitted_at=WHEN,
        done_at=WHEN,
        updated_at=WHEN,
    ),
]

SEND = r.SendResult(
    batch_id="01J00000000000000000000000",
    client_reference="Ref & <co>",
    messages=[
        r.MessageReceipt(
            "01J0000000000000000000000A", "+17036069996", "QUEUED", 2, "UCS2"
        )
    ],
    rejected=[r.RejectedRecipient("<bogus & co>", "INVALID_NUMBER")],
)
EMPTY_SEND = r.SendResult("01J00000000000000000000000", None, [], [])


def _spyne_status(m: r.MessageStatus) -> t.MessageStatus:
    return t.MessageStatus(
        MessageId=m.message_id,
        Status=m.status,
        BatchId=m.batch_id,
        ClientReference=m.client_reference,
        Recipient=m.recipient,
        Sender=m.sender,
        ErrorCode=m.error_code,
        ErrorText=m.error_text,
        CarrierError=m.carrier_error,
        Parts=m.parts,
        PartsDelivered=m.parts_delivered,
        CreatedAt=m.created_at,
        ScheduledFor=m.scheduled_for,
        SubmittedAt=m.submitted_at,
        DoneAt=m.done_at,
        UpdatedAt=m.updated_at,
    )


def _spyne_send(result: r.SendResult) -> t.SendMessageResult:
    return t.SendMessageResult(
        BatchId=result.batch_id,
        ClientReference=result.client_reference,
        AcceptedCount=result.accepted_count,
        RejectedCount=result.rejected_count,
        Messages=t.MessageReceiptList(
            MessageReceipt=[
                t.MessageReceipt(
                    MessageId=m.message_id,
                    Recipient=m.recipient,
                    Status=m.status,
                    Parts=m.parts,
                    Encoding=m.encoding,
                )
                for m in result.messages
            ]
        ),
        Rejected=t.RejectedRecipientList(
            RejectedRecipient=[
                t.RejectedRecipient(Recipient=x.recipient, Reason=x.reason)
                for x in result.rejected
            ]
        ),
    )


def _spyne_body(version: str, operation: str, value: object) -> bytes:
    """What Spyne itself writes for `value` as `operation`'s result."""
    app = build_application(version)
    protocol = app.out_protocol
    descriptor = next(
        m
        for s in app.services
        for m in s.public_methods.values()
        if m.name == operation
    )
    response_cls = descriptor.out_message
    element = etree.Element("root", nsmap={"tns": t.NS})
    wrapper = response_cls(**{f"{operation}Result": value})
    protocol.to_parent(None, response_cls, wrapper, element, t.NS)
    return etree.tostring(element[0])


def _schema() -> etree.XMLSchema:
    doc = etree.fromstring(build_wsdl(build_application("1.1"), "1.1"))
    return etree.XMLSchema(doc.find(f"{{{WSDL}}}types/{{{XS}}}schema"))


CASES = [
    (
        "SendMessage",
        lambda: writer.send_result("SendMessage", SEND),
        lambda: _spyne_send(SEND),
    ),
    (
        "SendMessage",
        lambda: writer.send_result("SendMessage", EMPTY_SEND),
        lambda: _spyne_send(EMPTY_SEND),
    ),
    (
        "GetStatus",
        lambda: writer.status_list("GetStatus", STATUSES),
        lambda: t.MessageStatusList(MessageStatus=[_spyne_status(m) for m in STATUSES]),
    ),
    (
        "CancelMessage",
        lambda: writer.status_list("CancelMessage", []),
        lambda: t.MessageStatusList(MessageStatus=[]),
    ),
    (
        "ListMessages",
        lambda: writer.message_page("ListMessages", r.MessagePage(STATUSES, "abc")),
        lambda: t.MessagePage(
            Messages=t.MessageStatusList(
                MessageStatus=[_spyne_status(m) for m in STATUSES]
            ),
            NextCursor="abc",
        ),
    ),
    (
        "ListMessages",
        lambda: writer.message_page("ListMessages", r.MessagePage([], None)),
        lambda: t.MessagePage(Messages=t.MessageStatusList(MessageStatus=[])),
    ),
]


def _canonical(xml: bytes | str) -> bytes:
    if isinstance(xml, str):
        xml = xml.encode()
    return etree.tostring(etree.fromstring(xml), method="c14n")


def _with_tns(fragment: str) -> str:
    return fragment.replace(">", f' xmlns:tns="{t.NS}">', 1)


@pytest.mark.parametrize(("operation", "ours", "theirs"), CASES)
def test_writer_matches_spyne_and_the_schema(operation, ours, theirs):
    rendered = ours()
    mine = _canonical(_with_tns(rendered.xml))
    spyne = _canonical(_spyne_body("1.1", operation, theirs()))
    assert mine == spyne
    _schema().assertValid(etree.fromstring(mine))


@pytest.mark.parametrize("version", ["1.1", "1.2"])
def test_envelope_frames_like_spyne(version):
    protocol = Soap11 if version == "1.1" else Soap12
    env_ns = protocol.ns_soap_env
    from spyne.const.xml import PREFMAP

    document = writer.envelope(
        writer.status_list("GetStatus", []), PREFMAP[env_ns], env_ns, t.NS
    )
    root = etree.fromstring(document)
    assert root.tag == f"{{{env_ns}}}Envelope"
    assert root[0].tag == f"{{{env_ns}}}Body"
    assert root[0][0].tag == f"{{{t.NS}}}GetStatusResponse"
    assert NullServer  # spyne's null transport is importable for ad-hoc checks


def test_times_are_utc_with_z_and_at_most_milliseconds():
    assert format_utc(datetime(2026, 1, 2, 3, 4, 5)) == "2026-01-02T03:04:05Z"
    assert (
        format_utc(datetime(2026, 1, 2, 3, 4, 5, 120999)) == "2026-01-02T03:04:05.120Z"
    )
    assert format_utc(datetime(2026, 1, 2, 3, 4, 5, 999)) == "2026-01-02T03:04:05Z"
    # Aware values are written in UTC, without their offset.
    plus_two = timezone(timedelta(hours=2))
    assert (
        format_utc(datetime(2026, 1, 2, 1, 4, 5, 7000, tzinfo=plus_two))
        == "2026-01-01T23:04:05.007Z"
    )
    assert (
        format_utc(datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)) == "2026-01-02T03:04:05Z"
    )
