"""Behind a reverse proxy: client address and WSDL address from trusted headers only."""

from __future__ import annotations

import pytest
import requests

from soapsms.usecases import accounts
from tests.conftest import LiveServer, make_settings
from tests.soap_helpers import auth_xml, envelope, post, raw_fault

GET_ACCOUNT = "<sms:GetAccount>{auth}</sms:GetAccount>"


@pytest.fixture
def proxied(db_url):
    from soapsms.store.migrate import upgrade
    from soapsms.usecases.runtime import Runtime

    rt = Runtime(make_settings(db_url, trusted_proxies=("127.0.0.0/8",)))
    upgrade(rt.engine)
    accounts.create_account(rt, "acme", "s3cret")
    with LiveServer(rt) as server:
        yield server
    rt.close()


def test_forwarded_for_from_a_trusted_proxy_is_the_client(proxied):
    accounts.set_networks(proxied.runtime, "acme", ["198.51.100.0/24"])
    body = envelope(GET_ACCOUNT.format(auth=auth_xml()))
    denied = post(proxied.url, body, headers={"X-Forwarded-For": "203.0.113.9"})
    assert raw_fault(denied)[0] == "Client.AccessDenied"
    allowed = post(proxied.url, body, headers={"X-Forwarded-For": "198.51.100.7"})
    assert allowed.status_code == 200, allowed.text
    # A client cannot smuggle an address in front of the one the proxy added.
    spoofed = post(
        proxied.url, body, headers={"X-Forwarded-For": "198.51.100.7, 203.0.113.9"}
    )
    assert raw_fault(spoofed)[0] == "Client.AccessDenied"


def test_forwarded_for_from_an_untrusted_peer_is_ignored(live, account, runtime):
    accounts.set_networks(runtime, "acme", ["198.51.100.0/24"])
    body = envelope(GET_ACCOUNT.format(auth=auth_xml()))
    response = post(live.url, body, headers={"X-Forwarded-For": "198.51.100.7"})
    assert raw_fault(response)[0] == "Client.AccessDenied"


def test_wsdl_address_follows_forwarded_proto_and_host_of_trusted_proxy(proxied, live):
    headers = {"X-Forwarded-Proto": "https", "X-Forwarded-Host": "sms.example.com"}
    text = requests.get(proxied.url + "/soap?wsdl", headers=headers, timeout=10).text
    assert 'location="https://sms.example.com/soap"' in text
    untrusted = requests.get(live.url + "/soap?wsdl", headers=headers, timeout=10).text
    assert f'location="{live.url}/soap"' in untrusted


def test_configured_public_url_wins(db_url):
    from soapsms.store.migrate import upgrade
    from soapsms.usecases.runtime import Runtime

    rt = Runtime(make_settings(db_url, public_url="https://gw.example.net/"))
    upgrade(rt.engine)
    with LiveServer(rt) as server:
        text = requests.get(server.url + "/soap12?wsdl", timeout=10).text
    rt.close()
    assert 'location="https://gw.example.net/soap12"' in text
