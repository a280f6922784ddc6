"""A help-desk consumer (BMC Remedy web-service filter) that knows only flat
fields: body Auth, Message/Text and a newline-separated Message/RecipientsText.

Remedy builds the request from the WSDL with every mapped element present,
filled or not (empty, self-closed or xsi:nil), in a default namespace, and
quotes the SOAPAction; it reads the answer back by element path.
"""

from __future__ import annotations

from xml.sax.saxutils import escape

import pytest
import requests
from lxml import etree
from sqlalchemy import func, select

from soapsms.store.db import transaction
from soapsms.store.models import Batch, Message
from tests.soap_helpers import NS, post, raw_fault

N = {"sms": NS}
INCIDENT = "INC000000012345"
TEXT = "Server web01 is down\r\nPriority: High"
RECEIPT = ("Recipient", "Status", "Encoding", "Parts")


@pytest.fixture
def db_url(sqlite_url: str) -> str:
    # The wire format is the subject here; the stores have their own tests.
    return sqlite_url


# How Remedy sends a mapped field that holds no value.
EMPTY_STYLES = {
    "self-closed": "<{0}/>",
    "open-close": "<{0}></{0}>",
    "xsi:nil": '<{0} xsi:nil="true"/>',
}


def remedy_post(live, operation: str, fields: str) -> requests.Response:
    body = (
        '<?xml version="1.0" encoding="UTF-8"?>'
        '<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/"'
        ' xmlns:xsd="http://www.w3.org/2001/XMLSchema"'
        ' xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">'
        f'<soapenv:Body><{operation} xmlns="{NS}">{fields}</{operation}>'
        "</soapenv:Body></soapenv:Envelope>"
    ).encode()
    return post(live.url, body, headers={"SOAPAction": f'"{operation}"'})


def remedy_call(live, operation: str, fields: str) -> etree._Element:
    response = remedy_post(live, operation, fields)
    assert response.status_code == 200, response.text
    return etree.fromstring(response.content)


def field(name: str, value: str | None, empty: str, raw: bool = False) -> str:
    if not value:
        return EMPTY_STYLES[empty].format(name)
    return f"<{name}>{value if raw else escape(value)}</{name}>"


def auth(empty: str, password: str = "s3cret") -> str:
    return (
        "<Auth>"
        + field("AccountId", "acme", empty)
        + field("Password", password, empty)
        + "</Auth>"
    )


def send_message(
    recipients_text: str,
    empty: str = "self-closed",
    password: str = "s3cret",
    raw: bool = False,
) -> str:
    """The SendMessage a Remedy filter sends: every OutboundMessage field."""
    return (
        auth(empty, password)
        + "<Message>"
        + field("Text", TEXT, empty)
        + f"<Recipients>{field('Recipient', None, empty)}</Recipients>"
        + field("RecipientsText", recipients_text, empty, raw=raw)
        + field("Sender", None, empty)
        + field("ClientReference", INCIDENT, empty)
        + field("ScheduledFor", None, empty)
        + field("ValidityMinutes", None, empty)
        + field("Encoding", None, empty)
        + field("StatusCallbackUrl", None, empty)
        + "</Message>"
    )


def receipts(result: etree._Element) -> list[tuple[str | None, ...]]:
    return [
        tuple(r.findtext(f"sms:{name}", namespaces=N) for name in RECEIPT)
        for r in result.iterfind("sms:Messages/sms:MessageReceipt", N)
    ]


def rejections(result: etree._Element) -> list[tuple[str | None, ...]]:
    return [
        tuple(
            r.findtext(f"sms:{name}", namespaces=N) for name in ("Recipient", "Reason")
        )
        for r in result.iterfind("sms:Rejected/sms:RejectedRecipient", N)
    ]


@pytest.mark.parametrize("empty", list(EMPTY_STYLES))
def test_remedy_filter_sends_and_polls_status(live, account, runtime, empty):
    answer = remedy_call(
        live, "SendMessage", send_message("+1 703 606 9996\n17036069997\n", empty)
    )
    result = answer.find(".//sms:SendMessageResponse/sms:SendMessageResult", N)
    batch_id = result.findtext("sms:BatchId", namespaces=N)
    assert batch_id
    assert result.findtext("sms:ClientReference", namespaces=N) == INCIDENT
    assert result.findtext("sms:AcceptedCount", namespaces=N) == "2"
    assert result.findtext("sms:RejectedCount", namespaces=N) == "0"
    assert receipts(result) == [
        ("+17036069996", "QUEUED", "GSM7", "1"),
        ("+17036069997", "QUEUED", "GSM7", "1"),
    ]
    assert rejections(result) == []
    with transaction(runtime.engine) as conn:
        texts = conn.scalars(select(Message.text).where(Message.batch_id == batch_id))
        # XML parsing turns the raw CRLF of a Remedy character field into LF.
        assert list(texts) == ["Server web01 is down\nPriority: High"] * 2

    # The next filter polls by incident number, with the other selectors empty.
    status = remedy_call(
        live,
        "GetStatus",
        auth(empty)
        + field("MessageIds", None, empty)
        + field("BatchId", None, empty)
        + field("ClientReference", INCIDENT, empty),
    )
    found = status.findall(".//sms:GetStatusResult/sms:MessageStatus", N)
    assert [
        (
            s.findtext("sms:Recipient", namespaces=N),
            s.findtext("sms:Status", namespaces=N),
            s.findtext("sms:BatchId", namespaces=N),
        )
        for s in found
    ] == [
        ("+17036069996", "QUEUED", batch_id),
        ("+17036069997", "QUEUED", batch_id),
    ]


@pytest.mark.parametrize(
    ("line_break", "raw"),
    [
        ("\n", False),
        ("\r\n", False),  # raw CRLF: the XML parser makes it LF
        ("&#13;&#10;", True),  # escaped CRLF: the CR survives parsing
        ("&#13;", True),  # escaped bare CR
    ],
    ids=["LF", "CRLF", "escaped-CRLF", "escaped-CR"],
)
def test_recipients_text_line_breaks(live, account, line_break, raw):
    numbers = ["+1 (703) 606-9996", "", "17036069997", "bogus", "+17036069996", ""]
    answer = remedy_call(
        live,
        "SendMessage",
        send_message(line_break.join(numbers), raw=raw),
    )
    result = answer.find(".//sms:SendMessageResult", N)
    assert result.findtext("sms:AcceptedCount", namespaces=N) == "2"
    assert result.findtext("sms:RejectedCount", namespaces=N) == "2"
    assert [r[0] for r in receipts(result)] == ["+17036069996", "+17036069997"]
    assert rejections(result) == [
        ("bogus", "INVALID_NUMBER"),
        ("+17036069996", "DUPLICATE"),
    ]


@pytest.mark.parametrize(
    ("password", "recipients_text", "code"),
    [
        ("wrong", "+17036069996", "Client.AuthenticationFailed"),
        ("s3cret", "bogus\nnot a number", "Client.InvalidRecipient"),
    ],
)
def test_remedy_sees_a_fault_and_nothing_is_stored(
    live, account, runtime, password, recipients_text, code
):
    response = remedy_post(
        live, "SendMessage", send_message(recipients_text, password=password)
    )
    # HTTP 500 is what Remedy's web-service plug-in reads a fault from.
    assert response.status_code == 500
    fault_code, fault_string = raw_fault(response)
    assert fault_code == code
    assert fault_string.strip()  # Remedy shows it in the filter's error
    with transaction(runtime.engine) as conn:
        assert conn.scalar(select(func.count()).select_from(Batch)) == 0
