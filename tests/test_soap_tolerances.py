"""What generated clients send that the schema alone would refuse (the
contract's "What the server tolerates"): a nil operation element from
SOAP::Lite, and the value-type defaults of strongly typed proxies."""

from __future__ import annotations

import re

import pytest
from lxml import etree

from soapsms.config import Settings
from tests.conftest import make_settings
from tests.dispatch_helpers import message
from tests.soap_helpers import NS, auth_xml, envelope, post, raw_fault

XSI = 'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"'
BASIC = {"Authorization": "Basic YWNtZTpzM2NyZXQ="}  # acme:s3cret
HELLO = (
    "<sms:Text>Server web01 is down</sms:Text>"
    "<sms:Recipients><sms:Recipient>+17036069996</sms:Recipient></sms:Recipients>"
)


@pytest.fixture
def settings(sqlite_url: str) -> Settings:
    """SQLite only: these are about the SOAP edge, not the store."""
    return make_settings(sqlite_url)


def _find(response, name: str) -> list[str]:
    root = etree.fromstring(response.content)
    return [e.text for e in root.iter(f"{{{NS}}}{name}")]


@pytest.mark.parametrize("version", ["1.1", "1.2"])
@pytest.mark.parametrize(
    "body",
    [
        f'<sms:GetAccount {XSI} xsi:nil="true"/>',
        f'<sms:GetAccount {XSI} xsi:nil="1"></sms:GetAccount>',
        "<sms:GetAccount/>",
    ],
)
def test_get_account_without_arguments(live, account, version, body):
    response = post(live.url, envelope(body, version=version), version, headers=BASIC)
    assert response.status_code == 200, response.text
    assert _find(response, "AccountId") == ["acme"]


def test_nil_list_messages_and_get_status(live, account):
    body = f'<sms:ListMessages {XSI} xsi:nil="true"/>'
    response = post(live.url, envelope(body), headers=BASIC)
    assert response.status_code == 200, response.text
    # GetStatus has no required part either; it needs a selector, and says so.
    body = f'<sms:GetStatus {XSI} xsi:nil="true"/>'
    response = post(live.url, envelope(body), headers=BASIC)
    assert raw_fault(response) == (
        "Client.ValidationError",
        "give MessageIds, BatchId or ClientReference",
    )


def test_nil_send_message_still_needs_its_message(live, account):
    body = f'<sms:SendMessage {XSI} xsi:nil="true"/>'
    response = post(live.url, envelope(body), headers=BASIC)
    code, text = raw_fault(response)
    assert code == "Client.ValidationError" and "Message" in text
    assert _find(post(live.url, envelope(_list())), "MessageId") == []


def _send(extra: str) -> str:
    return f"<sms:SendMessage>{auth_xml()}<sms:Message>{HELLO}{extra}</sms:Message></sms:SendMessage>"


def _list(extra: str = "") -> str:
    return f"<sms:ListMessages>{auth_xml()}{extra}</sms:ListMessages>"


@pytest.mark.parametrize("version", ["1.1", "1.2"])
@pytest.mark.parametrize(
    "scheduled",
    [
        "0001-01-01T00:00:00",
        "0001-01-01T00:00:00Z",
        "0001-01-01T00:00:00.0000000",
        "0001-01-01T00:00:00+01:00",
        "0001-01-01T00:00:00-05:00",
    ],
)
def test_svcutil_defaults_mean_absent(live, account, runtime, version, scheduled):
    extra = (
        f"<sms:ScheduledFor>{scheduled}</sms:ScheduledFor>"
        "<sms:ValidityMinutes>0</sms:ValidityMinutes>"
    )
    response = post(live.url, envelope(_send(extra), version=version), version)
    assert response.status_code == 200, response.text
    assert _find(response, "Status") == ["QUEUED"]  # not SCHEDULED for year 1
    [message_id] = _find(response, "MessageId")
    stored = message(runtime, message_id)
    assert stored.scheduled_for is None
    assert stored.validity_minutes == runtime.settings.default_validity_minutes


@pytest.mark.parametrize(
    ("extra", "fault"),
    [
        ("<sms:ValidityMinutes>-1</sms:ValidityMinutes>", "ValidityMinutes must be 1"),
        ("<sms:ValidityMinutes>10081</sms:ValidityMinutes>", "ValidityMinutes must"),
    ],
)
def test_other_out_of_range_values_are_still_refused(live, account, extra, fault):
    code, text = raw_fault(post(live.url, envelope(_send(extra))))
    assert code == "Client.ValidationError" and text.startswith(fault)


def test_list_messages_defaults_mean_absent(live, account):
    assert post(live.url, envelope(_send(""))).status_code == 200
    extra = (
        "<sms:Since>0001-01-01T00:00:00</sms:Since>"
        "<sms:Until>0001-01-01T00:00:00+02:00</sms:Until>"
        "<sms:Limit>0</sms:Limit>"
    )
    response = post(live.url, envelope(_list(extra)))
    assert response.status_code == 200, response.text
    assert len(_find(response, "MessageId")) == 1
    code, text = raw_fault(post(live.url, envelope(_list("<sms:Limit>-1</sms:Limit>"))))
    assert code == "Client.ValidationError" and re.match("Limit must be 1", text)
