"""The three ways to authenticate, and what failing them looks like."""

from __future__ import annotations

import base64

import pytest
import requests
from sqlalchemy import func, select

from soapsms.store.db import transaction
from soapsms.store.models import Message
from soapsms.usecases import accounts
from tests.soap_helpers import AUTH, auth_xml, envelope, fault_code, post, raw_fault

STATUS_BODY = "<sms:GetAccount>{auth}</sms:GetAccount>"


def test_body_auth(client, account):
    assert client.service.GetAccount(Auth=AUTH).AccountId == "acme"


def test_ws_security_username_token(make_client, account):
    client = make_client(wsse=("acme", "s3cret"))
    assert client.service.GetAccount().AccountId == "acme"


def test_http_basic(make_client, account):
    client = make_client(basic=("acme", "s3cret"))
    assert client.service.GetAccount().AccountId == "acme"


def test_wrong_and_unknown_give_the_same_fault(client, account):
    wrong = fault_code(
        lambda: client.service.GetAccount(Auth={"AccountId": "acme", "Password": "x"})
    )
    unknown = fault_code(
        lambda: client.service.GetAccount(Auth={"AccountId": "nobody", "Password": "x"})
    )
    assert wrong == unknown == "Client.AuthenticationFailed"


def test_no_credentials_is_401_with_challenge_and_fault_body(live, account):
    response = post(live.url, envelope(STATUS_BODY.format(auth="")))
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"] == 'Basic realm="soapsms"'
    assert raw_fault(response)[0] == "Client.AuthenticationFailed"


def test_empty_auth_counts_as_none_and_challenge_then_basic_works(live, account):
    empty = "<sms:Auth><sms:AccountId/><sms:Password></sms:Password></sms:Auth>"
    response = post(live.url, envelope(STATUS_BODY.format(auth=empty)))
    assert response.status_code == 401
    token = base64.b64encode(b"acme:s3cret").decode()
    response = post(
        live.url,
        envelope(STATUS_BODY.format(auth=empty)),
        headers={"Authorization": f"Basic {token}"},
    )
    assert response.status_code == 200, response.text


def test_wrong_password_is_500_fault_not_401(live, account):
    response = post(
        live.url, envelope(STATUS_BODY.format(auth=auth_xml(password="nope")))
    )
    assert response.status_code == 500
    assert raw_fault(response)[0] == "Client.AuthenticationFailed"


def test_two_accounts_named_is_authentication_failed(live, account, runtime):
    accounts.create_account(runtime, "other", "pw-other")
    token = base64.b64encode(b"other:pw-other").decode()
    response = post(
        live.url,
        envelope(STATUS_BODY.format(auth=auth_xml())),
        headers={"Authorization": f"Basic {token}"},
    )
    assert raw_fault(response)[0] == "Client.AuthenticationFailed"
    assert "two different accounts" in raw_fault(response)[1]


WSSE = (
    '<wsse:Security xmlns:wsse="http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd"'
    ' xmlns:wsu="http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-utility-1.0.xsd"'
    ' env:mustUnderstand="{mu}">'
    '<wsu:Timestamp wsu:Id="TS-1"><wsu:Created>2026-01-01T00:00:00Z</wsu:Created></wsu:Timestamp>'
    '<wsse:UsernameToken wsu:Id="UT-1"><wsse:Username>acme</wsse:Username>'
    '<wsse:Password Type="http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-username-token-profile-1.0#{kind}">{pw}</wsse:Password>'
    "<wsse:Nonce>abc=</wsse:Nonce></wsse:UsernameToken></wsse:Security>"
)


@pytest.mark.parametrize("must_understand", ["1", "true"])
def test_wsse_as_wcf_and_cxf_send_it(live, account, must_understand):
    header = WSSE.format(mu=must_understand, kind="PasswordText", pw="s3cret")
    response = post(live.url, envelope(STATUS_BODY.format(auth=""), header=header))
    assert response.status_code == 200, response.text


def test_wsse_in_default_namespace(live, account):
    header = (
        '<Security xmlns="http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd">'
        "<UsernameToken><Username>acme</Username><Password>s3cret</Password></UsernameToken></Security>"
    )
    response = post(live.url, envelope(STATUS_BODY.format(auth=""), header=header))
    assert response.status_code == 200, response.text


def test_password_digest_is_refused_with_a_reason(live, account):
    header = WSSE.format(mu="1", kind="PasswordDigest", pw="aGFzaA==")
    response = post(live.url, envelope(STATUS_BODY.format(auth=""), header=header))
    code, text = raw_fault(response)
    assert code == "Client.AuthenticationFailed"
    assert "PasswordDigest" in text


def test_access_denied_only_after_the_password(client, account, runtime):
    accounts.set_disabled(runtime, "acme", True)
    assert (
        fault_code(lambda: client.service.GetAccount(Auth=AUTH))
        == "Client.AccessDenied"
    )
    bad = {"AccountId": "acme", "Password": "wrong"}
    assert (
        fault_code(lambda: client.service.GetAccount(Auth=bad))
        == "Client.AuthenticationFailed"
    )
    accounts.set_disabled(runtime, "acme", False)
    assert client.service.GetAccount(Auth=AUTH).AccountId == "acme"


def test_source_network_allow_list(client, account, runtime):
    accounts.set_networks(runtime, "acme", ["192.0.2.0/24"])
    assert (
        fault_code(lambda: client.service.GetAccount(Auth=AUTH))
        == "Client.AccessDenied"
    )
    accounts.set_networks(runtime, "acme", ["127.0.0.0/8"])
    assert client.service.GetAccount(Auth=AUTH).AccountId == "acme"


def test_password_change_takes_effect_at_once_despite_cache(client, account, runtime):
    assert client.service.GetAccount(Auth=AUTH).AccountId == "acme"  # now cached
    accounts.set_password(runtime, "acme", "new-secret")
    assert (
        fault_code(lambda: client.service.GetAccount(Auth=AUTH))
        == "Client.AuthenticationFailed"
    )
    new = {"AccountId": "acme", "Password": "new-secret"}
    assert client.service.GetAccount(Auth=new).AccountId == "acme"


def test_failed_logins_are_throttled_without_hashing(client, account, runtime):
    limit = runtime.settings.login_failures_per_window
    bad = {"AccountId": "acme", "Password": "wrong"}
    for _ in range(limit):
        fault_code(lambda: client.service.GetAccount(Auth=bad))
    calls = []
    original = runtime.authenticator._verify
    runtime.authenticator._verify = lambda *a: calls.append(a) or original(*a)
    # Even the right password is refused while the source is throttled.
    assert (
        fault_code(lambda: client.service.GetAccount(Auth=AUTH))
        == "Client.AuthenticationFailed"
    )
    assert calls == []


def test_passwords_are_stored_as_argon2_hashes(account, runtime):
    from sqlalchemy import select

    from soapsms.store.db import transaction
    from soapsms.store.models import Account

    with transaction(runtime.engine) as conn:
        stored = conn.scalar(
            select(Account.password_hash).where(Account.account_id == "acme")
        )
    assert stored.startswith("$argon2id$") and "s3cret" not in stored


def test_wsdl_is_served_without_authentication(live):
    response = requests.get(live.url + "/soap?wsdl", timeout=10)
    assert response.status_code == 200
    assert b"SmsServicePortType" in response.content


def test_overlong_auth_fields_are_validation_errors(live, account):
    response = post(
        live.url, envelope(STATUS_BODY.format(auth=auth_xml(account="a" * 65)))
    )
    assert raw_fault(response)[0] == "Client.ValidationError"
    response = post(
        live.url, envelope(STATUS_BODY.format(auth=auth_xml(password="p" * 129)))
    )
    assert raw_fault(response)[0] == "Client.ValidationError"


def _stored(runtime) -> int:
    with transaction(runtime.engine) as conn:
        return conn.scalar(select(func.count()).select_from(Message))


def _send(client, auth=AUTH, recipients=("+17036069996",)):
    return client.service.SendMessage(
        Auth=auth, Message={"Text": "hi", "Recipients": {"Recipient": list(recipients)}}
    )


def test_send_message_sees_account_changes_at_once(client, account, runtime):
    # SendMessage trusts the login cached by the previous call and confirms
    # the account's version in its own transaction: every change counts at
    # once, and a refused send stores nothing.
    _send(client)
    accounts.set_password(runtime, "acme", "new-secret")
    assert fault_code(lambda: _send(client)) == "Client.AuthenticationFailed"
    new = {"AccountId": "acme", "Password": "new-secret"}
    _send(client, new)
    accounts.set_disabled(runtime, "acme", True)
    assert fault_code(lambda: _send(client, new)) == "Client.AccessDenied"
    accounts.set_disabled(runtime, "acme", False)
    _send(client, new)
    accounts.set_networks(runtime, "acme", ["192.0.2.0/24"])
    assert fault_code(lambda: _send(client, new)) == "Client.AccessDenied"
    accounts.set_networks(runtime, "acme", [])
    _send(client, new)
    accounts.set_fields(runtime, "acme", max_recipients=1)
    two = ("+17036069996", "+17036069997")
    assert fault_code(lambda: _send(client, new, two)) == "Client.TooManyRecipients"
    assert _stored(runtime) == 4
