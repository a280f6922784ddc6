"""Raw SOAP 1.1 envelopes the bench posts, and small readers of the answers."""

from __future__ import annotations

from collections.abc import Sequence

from lxml import etree

SOAP11 = "http://schemas.xmlsoap.org/soap/envelope/"
NS = "urn:soapsms:v1"
ACCOUNT = "bench"
PASSWORD = "bench-password-1"
TEXT = "Server web01 is down (check_http: connection refused)"


def headers(action: str) -> dict[str, str]:
    """HTTP headers of a SOAP 1.1 call to `action`."""
    return {"Content-Type": "text/xml; charset=utf-8", "SOAPAction": f'"{action}"'}


def _envelope(body: str) -> bytes:
    return (
        '<?xml version="1.0" encoding="utf-8"?>'
        f'<env:Envelope xmlns:env="{SOAP11}" xmlns:sms="{NS}">'
        f"<env:Body>{body}</env:Body></env:Envelope>"
    ).encode()


def _auth() -> str:
    return (
        f"<sms:Auth><sms:AccountId>{ACCOUNT}</sms:AccountId>"
        f"<sms:Password>{PASSWORD}</sms:Password></sms:Auth>"
    )


def send_message(recipients: Sequence[str], text: str = TEXT) -> bytes:
    """SendMessage to `recipients`, without ClientReference (each call stores)."""
    items = "".join(f"<sms:Recipient>{r}</sms:Recipient>" for r in recipients)
    return _envelope(
        f"<sms:SendMessage>{_auth()}<sms:Message><sms:Text>{text}</sms:Text>"
        f"<sms:Recipients>{items}</sms:Recipients></sms:Message></sms:SendMessage>"
    )


def get_status(message_ids: Sequence[str]) -> bytes:
    """GetStatus of the given MessageIds."""
    items = "".join(f"<sms:MessageId>{i}</sms:MessageId>" for i in message_ids)
    return _envelope(
        f"<sms:GetStatus>{_auth()}<sms:MessageIds>{items}</sms:MessageIds>"
        "</sms:GetStatus>"
    )


def texts(answer: bytes, name: str) -> list[str]:
    """Texts of every element `name` (in the contract namespace) of an answer."""
    root = etree.fromstring(answer)
    return [e.text or "" for e in root.iter(f"{{{NS}}}{name}")]
