"""SendMessage and GetStatus answered by soap.direct are on the wire what
Spyne's pipeline answers.

Two gateways on two fresh stores with the same account: one as served, one
whose endpoints leave every request to Spyne. Each request goes to both; the
answers (status, headers, body with the generated ids and times masked) must
be equal, and the served one must say which path answered.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
import requests

from soapsms.store.migrate import upgrade
from soapsms.usecases import accounts
from soapsms.usecases.runtime import Runtime
from tests.conftest import LiveServer, make_settings
from tests.soap_helpers import auth_xml, envelope, post

ULID = re.compile(rb"\b[0-9A-HJKMNP-TV-Z]{26}\b")
NOW = re.compile(rb"<tns:(CreatedAt|UpdatedAt|SubmittedAt|DoneAt)>[^<]*<")
XSI = 'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"'
WSSE = (
    '<wsse:Security xmlns:wsse="http://docs.oasis-open.org/wss/2004/01/'
    'oasis-200401-wss-wssecurity-secext-1.0.xsd"><wsse:UsernameToken>'
    "<wsse:Username>acme</wsse:Username><wsse:Password>s3cret</wsse:Password>"
    "</wsse:UsernameToken></wsse:Security>"
)


def _send(message: str, auth: str | None = None) -> str:
    return (
        f"<sms:SendMessage>{auth_xml() if auth is None else auth}"
        f"<sms:Message>{message}</sms:Message></sms:SendMessage>"
    )


def _to(*numbers: str) -> str:
    items = "".join(f"<sms:Recipient>{n}</sms:Recipient>" for n in numbers)
    return f"<sms:Recipients>{items}</sms:Recipients>"


# Two days ahead, written with an offset (the contract allows up to a year).
SOON = (datetime.now(UTC) + timedelta(days=2)).astimezone(timezone(timedelta(hours=2)))
SOON_TEXT = SOON.isoformat(timespec="seconds")
LIST = envelope(f"<sms:ListMessages>{auth_xml()}</sms:ListMessages>")
HELLO = "<sms:Text>Server web01 is down</sms:Text>" + _to("+17036069996")

# (name, SOAP version, body, header, HTTP headers): answered by soap.direct.
DIRECT: list[tuple[str, str, str, str, dict[str, str]]] = [
    ("plain", "1.1", _send(HELLO), "", {}),
    ("plain 1.2", "1.2", _send(HELLO), "", {}),
    (
        "rejections",
        "1.1",
        _send(
            "<sms:Text>x</sms:Text>"
            + _to(
                "+17036069996", "12", "+1 703 606 9996", "+17036069990", "+447700900123"
            )
        ),
        "",
        {},
    ),
    (
        "every field",
        "1.1",
        _send(
            "<sms:Text>Caf\u00e9 \u20ac \U0001f600 &lt;ok&gt;</sms:Text>"
            + _to("+17036069996")
            + "<sms:RecipientsText>+447700900123, +447700900124</sms:RecipientsText>"
            "<sms:Sender>ACME</sms:Sender>"
            "<sms:ClientReference>INC &lt;&amp;&gt; 42</sms:ClientReference>"
            f"<sms:ScheduledFor>{SOON_TEXT}</sms:ScheduledFor>"
            "<sms:ValidityMinutes>90</sms:ValidityMinutes>"
            "<sms:Encoding>UCS2</sms:Encoding>"
        ),
        "",
        {},
    ),
    (
        "empty and nil optionals",
        "1.1",
        _send(
            "<sms:Text><![CDATA[a < b & c]]></sms:Text>"
            + _to("+17036069996")
            + "<sms:RecipientsText>  </sms:RecipientsText><sms:Sender/>"
            f'<sms:ClientReference {XSI} xsi:nil="true"/>'
            "<sms:ValidityMinutes></sms:ValidityMinutes>"
        ),
        "",
        {},
    ),
    (
        "value-type defaults (svcutil, .NET)",
        "1.1",
        _send(
            HELLO + "<sms:ScheduledFor>0001-01-01T00:00:00</sms:ScheduledFor>"
            "<sms:ValidityMinutes>0</sms:ValidityMinutes>"
        ),
        "",
        {},
    ),
    (
        "value-type defaults with a zone",
        "1.2",
        _send(
            HELLO + "<sms:ScheduledFor>0001-01-01T00:00:00+01:00</sms:ScheduledFor>"
            "<sms:ValidityMinutes>0</sms:ValidityMinutes>"
        ),
        "",
        {},
    ),
    ("ws-security", "1.1", _send(HELLO, auth=""), WSSE, {}),
    (
        "basic",
        "1.2",
        _send(HELLO, auth=""),
        "",
        {"Authorization": "Basic YWNtZTpzM2NyZXQ="},
    ),
    ("no credentials (401)", "1.1", _send(HELLO, auth=""), "", {}),
    ("no credentials 1.2", "1.2", _send(HELLO, auth=""), "", {}),
    ("wrong password", "1.1", _send(HELLO, auth=auth_xml(password="nope")), "", {}),
    (
        "too long",
        "1.2",
        _send(f"<sms:Text>{'x' * 1600}</sms:Text>" + _to("+17036069996")),
        "",
        {},
    ),
    (
        "bad sender",
        "1.1",
        _send(HELLO + "<sms:Sender>far too long a sender name</sms:Sender>"),
        "",
        {},
    ),
    (
        "too far ahead, callback",
        "1.1",
        _send(
            HELLO + "<sms:ScheduledFor>2099-01-02T03:04:05Z</sms:ScheduledFor>"
            "<sms:StatusCallbackUrl>https://example.com/cb</sms:StatusCallbackUrl>"
        ),
        "",
        {},
    ),
    (
        "callback",
        "1.2",
        _send(
            HELLO
            + "<sms:StatusCallbackUrl>https://example.com/cb</sms:StatusCallbackUrl>"
        ),
        "",
        {},
    ),
    ("no recipient", "1.1", _send("<sms:Text>x</sms:Text>"), "", {}),
    (
        "blocked only",
        "1.1",
        _send("<sms:Text>x</sms:Text>" + _to("+17036069990")),
        "",
        {},
    ),
]

# Left to Spyne: other operations, and what the guard or the schema refuses.
SPYNE: list[tuple[str, str, str]] = [
    ("other operation", "1.1", f"<sms:GetAccount>{auth_xml()}</sms:GetAccount>"),
    ("nil send", "1.1", f'<sms:SendMessage {XSI} xsi:nil="true"/>'),
    ("no text", "1.1", _send(_to("+17036069996"))),
    (
        "bad int",
        "1.2",
        _send(HELLO + "<sms:ValidityMinutes>soon</sms:ValidityMinutes>"),
    ),
    (
        "bad time",
        "1.1",
        _send(HELLO + "<sms:ScheduledFor>tomorrow</sms:ScheduledFor>"),
    ),
    ("unknown element", "1.1", _send(HELLO + "<sms:Priority>1</sms:Priority>")),
    ("two operations", "1.1", _send(HELLO) + _send(HELLO)),
]


class _Gateway:
    """A live gateway on its own store, counting what soap.direct answered."""

    def __init__(self, tmp: Path, direct: bool) -> None:
        self.runtime = Runtime(make_settings(f"sqlite:///{tmp / 'soapsms.db'}"))
        upgrade(self.runtime.engine)
        accounts.create_account(self.runtime, "acme", "s3cret")
        accounts.block(self.runtime, "acme", ["+17036069990"])
        self.server = LiveServer(self.runtime)
        self.answered = 0
        for path in ("/soap", "/soap12"):
            endpoint = self.server.app.routes[path]
            endpoint.direct = self._counting(endpoint.direct) if direct else _declines

    def _counting(self, direct: Any) -> Any:
        def call(*args: Any) -> Any:
            answer = direct(*args)
            self.answered += answer is not None
            return answer

        return call


def _declines(*_: Any) -> None:
    return None


@pytest.fixture
def gateways(tmp_path: Path) -> Iterator[tuple[_Gateway, _Gateway]]:
    (tmp_path / "direct").mkdir()
    (tmp_path / "spyne").mkdir()
    direct = _Gateway(tmp_path / "direct", direct=True)
    spyne = _Gateway(tmp_path / "spyne", direct=False)
    with direct.server, spyne.server:
        yield direct, spyne
    direct.runtime.close()
    spyne.runtime.close()


def _seen(response: requests.Response) -> tuple[int, dict[str, str], bytes]:
    headers = {k: v for k, v in response.headers.items() if k not in ("Date", "Server")}
    return response.status_code, headers, ULID.sub(b"<ULID>", response.content)


def _both(
    gateways: tuple[_Gateway, _Gateway],
    data: bytes,
    version: str,
    headers: dict[str, str],
) -> tuple[Any, Any]:
    direct, spyne = gateways
    ours = post(direct.server.url, data, version, headers=headers)
    theirs = post(spyne.server.url, data, version, headers=headers)
    return _seen(ours), _seen(theirs)


@pytest.mark.parametrize(
    "name,version,body,header,headers", DIRECT, ids=[c[0] for c in DIRECT]
)
def test_direct_answers_as_spyne_does(
    gateways: tuple[_Gateway, _Gateway],
    name: str,
    version: str,
    body: str,
    header: str,
    headers: dict[str, str],
) -> None:
    ours, theirs = _both(gateways, envelope(body, header, version), version, headers)
    assert ours == theirs
    assert gateways[0].answered == 1
    assert gateways[1].answered == 0
    # What was stored, as ListMessages shows it, is the same too.
    listed = [
        NOW.sub(rb"<tns:\1>now<", _seen(post(g.server.url, LIST, "1.1"))[2])
        for g in gateways
    ]
    assert listed[0] == listed[1]


@pytest.mark.parametrize("name,version,body", SPYNE, ids=[c[0] for c in SPYNE])
def test_direct_leaves_the_rest_to_spyne(
    gateways: tuple[_Gateway, _Gateway], name: str, version: str, body: str
) -> None:
    ours, theirs = _both(gateways, envelope(body, version=version), version, {})
    assert ours == theirs
    assert gateways[0].answered == 0


def test_direct_refuses_doctype_like_spyne(gateways: tuple[_Gateway, _Gateway]) -> None:
    data = (
        b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "SendMessage">]>'
        + envelope(_send(HELLO)).split(b"?>", 1)[1]
    )
    ours, theirs = _both(gateways, data, "1.1", {})
    assert ours == theirs
    assert ours[0] == 500 and b"ValidationError" in ours[2]
    assert gateways[0].answered == 0


def test_direct_stores_what_it_acknowledges(
    gateways: tuple[_Gateway, _Gateway],
) -> None:
    direct, _ = gateways
    response = post(direct.server.url, envelope(_send(HELLO)), "1.1")
    assert response.status_code == 200
    (message_id,) = ULID.findall(response.content)[1:]
    status = post(
        direct.server.url,
        envelope(
            f"<sms:GetStatus>{auth_xml()}<sms:MessageIds><sms:MessageId>"
            f"{message_id.decode()}</sms:MessageId></sms:MessageIds></sms:GetStatus>"
        ),
        "1.1",
    )
    assert b"<tns:Status>QUEUED</tns:Status>" in status.content


# GetStatus: each gateway is asked about its own copy of the same batch.
# (name, SOAP version, answered by soap.direct, body from (batch id, ids), HTTP headers)
def _status(selector: str, auth: str | None = None) -> str:
    return (
        f"<sms:GetStatus>{auth_xml() if auth is None else auth}{selector}"
        "</sms:GetStatus>"
    )


def _message_ids(*ids: str) -> str:
    return (
        "<sms:MessageIds>"
        + "".join(f"<sms:MessageId>{i}</sms:MessageId>" for i in ids)
        + "</sms:MessageIds>"
    )


Build = Any  # (batch id, [message ids]) -> GetStatus body
STATUS: list[tuple[str, str, bool, Build, dict[str, str]]] = [
    (
        "ids in order, unknown, lower case, repeated",
        "1.1",
        True,
        lambda b, ids: _status(
            _message_ids(ids[1], "nonsense", ids[0].lower(), ids[1], " ")
        ),
        {},
    ),
    (
        "batch",
        "1.2",
        True,
        lambda b, ids: _status(f"<sms:BatchId>{b}</sms:BatchId>"),
        {},
    ),
    (
        "reference, empty and nil others",
        "1.1",
        True,
        lambda b, ids: _status(
            "<sms:MessageIds/>"
            f'<sms:BatchId {XSI} xsi:nil="true"/>'
            "<sms:ClientReference>REF &amp; 9</sms:ClientReference>"
        ),
        {},
    ),
    (
        "ids narrowed by another batch",
        "1.1",
        True,
        lambda b, ids: _status(
            _message_ids(*ids) + "<sms:BatchId>01ARZ3NDEKTSV4RRFFQ69G5FAV</sms:BatchId>"
        ),
        {},
    ),
    ("no selector", "1.1", True, lambda b, ids: _status(""), {}),
    (
        "nil operation (SOAP::Lite)",
        "1.1",
        True,
        lambda b, ids: f'<sms:GetStatus {XSI} xsi:nil="true"/>',
        {"Authorization": "Basic YWNtZTpzM2NyZXQ="},
    ),
    (
        "over 1,000 ids",
        "1.1",
        True,
        lambda b, ids: _status(_message_ids(*(f"id{i}" for i in range(1001)))),
        {},
    ),
    (
        "wrong password",
        "1.2",
        True,
        lambda b, ids: _status(_message_ids(*ids), auth=auth_xml(password="nope")),
        {},
    ),
    (
        "no credentials (401)",
        "1.1",
        True,
        lambda b, ids: _status(_message_ids(*ids), auth=""),
        {},
    ),
    (
        "basic",
        "1.2",
        True,
        lambda b, ids: _status(_message_ids(*ids), auth=""),
        {"Authorization": "Basic YWNtZTpzM2NyZXQ="},
    ),
    (
        "unknown element",
        "1.1",
        False,
        lambda b, ids: _status(_message_ids(*ids) + "<sms:Limit>5</sms:Limit>"),
        {},
    ),
]
ANY_ULID = re.compile(rb"\b[0-9A-HJKMNP-TV-Z]{26}\b", re.IGNORECASE)


@pytest.mark.parametrize(
    "name,version,direct,build,headers", STATUS, ids=[c[0] for c in STATUS]
)
def test_direct_get_status_answers_as_spyne_does(
    gateways: tuple[_Gateway, _Gateway],
    name: str,
    version: str,
    direct: bool,
    build: Build,
    headers: dict[str, str],
) -> None:
    sent = envelope(
        _send(
            "<sms:Text>x</sms:Text>"
            + _to("+17036069996", "+17036069997")
            + "<sms:ClientReference>REF &amp; 9</sms:ClientReference>"
        )
    )
    answers = []
    for gateway in gateways:
        batch_id, *ids = (
            i.decode() for i in ULID.findall(post(gateway.server.url, sent).content)
        )
        data = envelope(build(batch_id, ids), version=version)
        answered = gateway.answered
        response = post(gateway.server.url, data, version, headers=headers)
        assert gateway.answered - answered == (direct and gateway is gateways[0])
        status_code, seen_headers, _ = _seen(response)
        body = NOW.sub(rb"<tns:\1>now<", ANY_ULID.sub(b"<ULID>", response.content))
        answers.append((status_code, seen_headers, body))
    assert answers[0] == answers[1]
    if name.startswith("ids in order"):
        assert answers[0][2].count(b"<tns:Status>QUEUED<") == 2
