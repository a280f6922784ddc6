"""Helpers for SOAP tests: raw envelopes and fault codes as a client sees them."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
import requests
import zeep
from lxml import etree

SOAP11 = "http://schemas.xmlsoap.org/soap/envelope/"
SOAP12 = "http://www.w3.org/2003/05/soap-envelope"
NS = "urn:soapsms:v1"

AUTH = {"AccountId": "acme", "Password": "s3cret"}


def fault_code(call: Callable[[], Any]) -> str:
    """Run a zeep call that must fail; return the fault code without prefix."""
    with pytest.raises(zeep.exceptions.Fault) as info:
        call()
    return str(info.value.code).rsplit(":", 1)[-1].rsplit("}", 1)[-1]


def envelope(body: str, header: str = "", version: str = "1.1") -> bytes:
    ns = SOAP11 if version == "1.1" else SOAP12
    head = f"<env:Header>{header}</env:Header>" if header else ""
    return (
        f'<?xml version="1.0" encoding="utf-8"?>'
        f'<env:Envelope xmlns:env="{ns}" xmlns:sms="{NS}">{head}'
        f"<env:Body>{body}</env:Body></env:Envelope>"
    ).encode()


def auth_xml(account: str = "acme", password: str = "s3cret") -> str:
    return (
        f"<sms:Auth><sms:AccountId>{account}</sms:AccountId>"
        f"<sms:Password>{password}</sms:Password></sms:Auth>"
    )


def post(
    url: str, data: bytes, version: str = "1.1", **kwargs: Any
) -> requests.Response:
    path = "/soap" if version == "1.1" else "/soap12"
    content_type = (
        "text/xml; charset=utf-8"
        if version == "1.1"
        else "application/soap+xml; charset=utf-8"
    )
    headers = {"Content-Type": content_type, **kwargs.pop("headers", {})}
    return requests.post(url + path, data=data, headers=headers, timeout=30, **kwargs)


def raw_fault(response: requests.Response) -> tuple[str, str]:
    """(code, text) of a fault response, for 1.1 or 1.2 envelopes."""
    root = etree.fromstring(response.content)
    code = root.findtext(".//faultcode")
    if code is not None:
        return code.rsplit(":", 1)[-1], root.findtext(".//faultstring") or ""
    sub = root.find(f".//{{{SOAP12}}}Subcode/{{{SOAP12}}}Value")
    value = root.findtext(f".//{{{SOAP12}}}Code/{{{SOAP12}}}Value") or ""
    text = root.findtext(f".//{{{SOAP12}}}Reason/{{{SOAP12}}}Text") or ""
    if sub is not None:
        return f"{value.rsplit(':', 1)[-1]}.{(sub.text or '').rsplit(':', 1)[-1]}", text
    return value, text
