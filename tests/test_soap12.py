"""SOAP 1.2 at /soap12: the same operations, faults with qualified subcodes."""

from __future__ import annotations

from tests.soap_helpers import AUTH, SOAP12, auth_xml, envelope, post


def test_zeep_over_soap12_sends_and_reads(make_client, account):
    client = make_client(version="1.2")
    sent = client.service.SendMessage(
        Auth=AUTH, Message={"Text": "over 1.2", "RecipientsText": "+17036069996"}
    )
    assert sent.AcceptedCount == 1
    status = client.service.GetStatus(Auth=AUTH, BatchId=sent.BatchId)
    assert status[0].Status == "QUEUED"


def test_soap12_fault_code_is_sender_with_qualified_subcode(live, account):
    response = post(
        live.url,
        envelope(
            f"<sms:GetAccount>{auth_xml(password='bad')}</sms:GetAccount>",
            version="1.2",
        ),
        version="1.2",
    )
    assert response.status_code == 500
    assert response.headers["Content-Type"].startswith("application/soap+xml")
    from lxml import etree

    root = etree.fromstring(response.content)
    value = root.find(f".//{{{SOAP12}}}Code/{{{SOAP12}}}Value")
    sub = root.find(f".//{{{SOAP12}}}Code/{{{SOAP12}}}Subcode/{{{SOAP12}}}Value")
    assert value.text == "soap12env:Sender"
    prefix, _, local = sub.text.partition(":")
    assert local == "AuthenticationFailed"
    assert sub.nsmap[prefix] == "urn:soapsms:v1"  # JAX-WS needs it qualified
    assert value.nsmap["soap12env"] == SOAP12


def test_soap12_fault_through_zeep(make_client, account):
    import pytest
    import zeep
    from lxml.etree import QName

    client = make_client(version="1.2")
    with pytest.raises(zeep.exceptions.Fault) as info:
        client.service.GetAccount(Auth={"AccountId": "acme", "Password": "x"})
    assert str(info.value.code).endswith("Sender")
    assert info.value.subcodes == [QName("urn:soapsms:v1", "AuthenticationFailed")]
