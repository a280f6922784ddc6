"""Hostile or sloppy input: a precise fault, nothing stored, the service still up."""

from __future__ import annotations

import requests
from sqlalchemy import func, select

from soapsms.store.db import transaction
from soapsms.store.models import Batch, Message
from tests.soap_helpers import AUTH, auth_xml, envelope, post, raw_fault

SEND = (
    "<sms:SendMessage>{auth}<sms:Message><sms:Text>{text}</sms:Text>"
    "<sms:RecipientsText>+17036069996</sms:RecipientsText>{extra}</sms:Message></sms:SendMessage>"
)


def _stored(runtime) -> int:
    with transaction(runtime.engine) as conn:
        return conn.scalar(select(func.count()).select_from(Message)) + conn.scalar(
            select(func.count()).select_from(Batch)
        )


def _still_up(live, client) -> None:
    assert requests.get(live.url + "/health", timeout=5).status_code == 200
    assert client.service.GetAccount(Auth=AUTH).AccountId == "acme"


def test_xxe_is_refused(live, client, account, runtime):
    body = (
        '<?xml version="1.0"?><!DOCTYPE foo [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>'
        + envelope(SEND.format(auth=auth_xml(), text="&xxe;", extra=""))
        .decode()
        .split("?>", 1)[1]
    )
    response = post(live.url, body.encode())
    assert response.status_code == 500
    assert raw_fault(response)[0] == "Client.ValidationError"
    assert "root:" not in response.text
    assert _stored(runtime) == 0
    _still_up(live, client)


def test_unresolved_entity_in_optional_field_is_not_absent(
    live, client, account, runtime
):
    body = (
        '<?xml version="1.0"?><!DOCTYPE foo [<!ENTITY e SYSTEM "http://127.0.0.1:9/x">]>'
        + envelope(
            SEND.format(
                auth=auth_xml(), text="hi", extra="<sms:Sender>&e;</sms:Sender>"
            )
        )
        .decode()
        .split("?>", 1)[1]
    )
    response = post(live.url, body.encode())
    assert raw_fault(response)[0] == "Client.ValidationError"
    assert _stored(runtime) == 0


def test_billion_laughs_is_refused(live, client, account, runtime):
    entities = '<!ENTITY lol "lol">' + "".join(
        f'<!ENTITY lol{i} "{("&lol" + str(i - 1) + ";") * 10 if i > 1 else "&lol;" * 10}">'
        for i in range(1, 10)
    )
    body = (
        f'<?xml version="1.0"?><!DOCTYPE lolz [{entities}]>'
        + envelope(SEND.format(auth=auth_xml(), text="&lol9;", extra=""))
        .decode()
        .split("?>", 1)[1]
    )
    response = post(live.url, body.encode())
    assert raw_fault(response)[0] == "Client.ValidationError"
    assert len(response.content) < 2000
    assert _stored(runtime) == 0
    _still_up(live, client)


def test_malformed_xml(live, client, account, runtime):
    response = post(live.url, b"<env:Envelope><unclosed>")
    assert response.status_code == 500
    assert raw_fault(response)[0] == "Client.ValidationError"
    _still_up(live, client)


def test_deep_nesting_is_refused(live, client, account, runtime):
    deep = "<sms:Sender>" + "<x>" * 100 + "</x>" * 100 + "</sms:Sender>"
    response = post(
        live.url, envelope(SEND.format(auth=auth_xml(), text="hi", extra=deep))
    )
    code, text = raw_fault(response)
    assert code == "Client.ValidationError" and "nesting" in text
    assert _stored(runtime) == 0


def test_unknown_element_and_unknown_operation(live, client, account, runtime):
    extra = "<sms:Priority>high</sms:Priority>"
    response = post(
        live.url, envelope(SEND.format(auth=auth_xml(), text="hi", extra=extra))
    )
    assert raw_fault(response)[0] == "Client.ValidationError"
    response = post(
        live.url, envelope(f"<sms:DeleteEverything>{auth_xml()}</sms:DeleteEverything>")
    )
    assert raw_fault(response)[0] == "Client.ValidationError"
    assert _stored(runtime) == 0


def test_wrong_order_and_bad_int_are_validation_errors(live, account, runtime):
    swapped = (
        f"<sms:SendMessage>{auth_xml()}<sms:Message>"
        "<sms:RecipientsText>+17036069996</sms:RecipientsText><sms:Text>hi</sms:Text>"
        "</sms:Message></sms:SendMessage>"
    )
    assert raw_fault(post(live.url, envelope(swapped)))[0] == "Client.ValidationError"
    bad_int = SEND.format(
        auth=auth_xml(),
        text="hi",
        extra="<sms:ValidityMinutes>soon</sms:ValidityMinutes>",
    )
    assert raw_fault(post(live.url, envelope(bad_int)))[0] == "Client.ValidationError"
    assert _stored(runtime) == 0


def test_empty_and_nil_optionals_read_as_absent(live, account, runtime):
    extra = (
        "<sms:Sender/><sms:ClientReference></sms:ClientReference>"
        '<sms:ScheduledFor xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xsi:nil="true"/>'
        "<sms:ValidityMinutes/><sms:Encoding> </sms:Encoding><sms:StatusCallbackUrl/>"
    )
    body = (
        f"<sms:SendMessage>{auth_xml()}<sms:Message><sms:Text>hi</sms:Text>"
        "<sms:Recipients><sms:Recipient/></sms:Recipients>"
        f"<sms:RecipientsText>+17036069996</sms:RecipientsText>{extra}"
        "</sms:Message></sms:SendMessage>"
    )
    response = post(live.url, envelope(body))
    assert response.status_code == 200, response.text
    assert b"<tns:AcceptedCount>1</tns:AcceptedCount>" in response.content


def test_tolerated_soapaction_and_encoding_style(live, account):
    body = envelope(SEND.format(auth=auth_xml(), text="hi", extra="")).replace(
        b"<env:Envelope ",
        b'<env:Envelope env:encodingStyle="http://schemas.xmlsoap.org/soap/encoding/" ',
    )
    for action in ('"SendMessage"', "SendMessage", "", '"*"', '""'):
        response = post(live.url, body, headers={"SOAPAction": action})
        assert response.status_code == 200, (action, response.text)


def test_body_over_limit_is_413_before_reading(live, account, runtime):
    limit = runtime.settings.max_body_bytes
    response = requests.post(
        live.url + "/soap",
        data=b"x" * (limit + 1),
        headers={"Content-Type": "text/xml"},
        timeout=30,
    )
    assert response.status_code == 413
    assert _stored(runtime) == 0


def test_ten_thousand_recipients_fit_the_limit(live, account, runtime):
    numbers = "".join(
        f"<sms:Recipient>+1555{i:07d}</sms:Recipient>" for i in range(10_000)
    )
    body = (
        f"<sms:SendMessage>{auth_xml()}<sms:Message><sms:Text>hi</sms:Text>"
        f"<sms:Recipients>{numbers}</sms:Recipients></sms:Message></sms:SendMessage>"
    )
    response = post(live.url, envelope(body))
    assert response.status_code == 200, response.text[:500]
    assert b"<tns:AcceptedCount>10000</tns:AcceptedCount>" in response.content
