"""The optional confirmation/error mail, through a second local aiosmtpd as relay."""

from __future__ import annotations

import email
import socket
from email import policy

import pytest

from soapsms.smtp_ingress.notify import Answer, Notifier
from soapsms.usecases import accounts
from soapsms.usecases.results import SendResult
from tests.smtp_helpers import SENDER, example, ingress, relay, send
from tests.soap_helpers import AUTH

WAIT = 30  # seconds at most for the relay to receive; normally milliseconds


def _relay_settings(port: int, mode: str) -> dict[str, object]:
    return {
        "smtp_replies": mode,
        "smtp_reply_relay": f"127.0.0.1:{port}",
        "smtp_reply_from": "sms-gateway@localhost",
    }


def test_confirmation_of_an_accepted_mail(runtime, account, client):
    with relay() as (outbound, recorder):
        with ingress(runtime, **_relay_settings(outbound.port, "all")) as smtp:
            code, text = send(smtp.port, example())
            mail_from, rcpt_tos, content = recorder.received.get(timeout=WAIT)
    assert code == 250
    batch = text.split("batch ")[1].split(":")[0]
    # From the null sender: a bounce of the confirmation never comes back.
    assert (mail_from, rcpt_tos) == ("<>", [SENDER])
    reply = email.message_from_bytes(content, policy=policy.default)
    assert reply["Subject"] == f"SMS accepted: batch {batch}"
    assert reply["From"] == "sms-gateway@localhost"
    assert reply["To"] == SENDER
    assert reply["Auto-Submitted"] == "auto-replied"
    assert reply["In-Reply-To"] == "<INC000123.1@helpdesk.example.com>"
    body = reply.get_content()
    statuses = client.service.GetStatus(Auth=AUTH, BatchId=batch)
    for status in statuses:
        assert f"{status.Recipient}  message {status.MessageId}  QUEUED" in body
    assert b"s3cret" not in content and b"web01" not in content


def test_error_mail_only_for_final_refusals(runtime, account, client):
    with relay() as (outbound, recorder):
        with ingress(runtime, **_relay_settings(outbound.port, "errors")) as smtp:
            ok = send(smtp.port, example(message_id="<ok@x>"))
            accounts.set_credits(runtime, "acme", balance=0)
            refused = send(smtp.port, example(message_id="<bad@x>"))
            _, _, content = recorder.received.get(timeout=WAIT)
            # Decided while answering DATA: the accepted mail asked for none.
            assert recorder.received.empty()
    assert ok[0] == 250 and refused[0] == 550
    reply = email.message_from_bytes(content, policy=policy.default)
    assert reply["Subject"] == "SMS not sent"
    assert reply["In-Reply-To"] == "<bad@x>"
    assert "550 5.7.1" in reply.get_content()
    assert b"s3cret" not in content
    assert len(client.service.ListMessages(Auth=AUTH).Messages.MessageStatus) == 2


def test_an_unreachable_relay_does_not_change_the_answer(runtime, account, client):
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        closed = sock.getsockname()[1]
    with ingress(runtime, **_relay_settings(closed, "all")) as smtp:
        code, _ = send(smtp.port, example())
    assert code == 250
    assert len(client.service.ListMessages(Auth=AUTH).Messages.MessageStatus) == 2


_RESULT = SendResult("01HZZZZZZZZZZZZZZZZZZZZZZZ", None, [], [])


@pytest.mark.parametrize(
    ("mode", "answer", "return_path", "auto", "wanted"),
    [
        ("off", Answer("550 5.7.8 no"), SENDER, False, False),
        ("errors", Answer("550 5.7.8 no"), SENDER, False, True),
        ("errors", Answer("250 ok", _RESULT), SENDER, False, False),
        ("all", Answer("250 ok", _RESULT), SENDER, False, True),
        ("all", Answer("451 4.3.0 later"), SENDER, False, False),  # it comes again
        ("all", Answer("550 5.7.8 no"), "", False, False),  # null sender
        ("all", Answer("550 5.7.8 no"), "<>", False, False),
        ("all", Answer("250 ok", _RESULT), SENDER, True, False),  # RFC 3834
    ],
)
def test_when_a_reply_is_sent(mode, answer, return_path, auto, wanted):
    notifier = Notifier(mode, ("127.0.0.1", 25), "gw@localhost", "localhost")
    assert notifier.wanted(answer, return_path, auto) is wanted
