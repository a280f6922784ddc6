"""SMTP ingress: deep MIME nesting refused for good, no backscatter to
senders that did not log in, and a reply that cannot be written never
changes the answer (issue 14, item 8)."""

from __future__ import annotations

import queue

from soapsms.smtp_ingress.mime import MAX_MULTIPARTS
from tests.smtp_helpers import EXAMPLE_LINES, example, ingress, raw_mail, relay, send

WAIT = 30


def _nested(levels: int, header: str = "Content-Type: ") -> bytes:
    """The example request inside `levels` nested multipart/mixed parts."""
    text = "\r\n".join(EXAMPLE_LINES) + "\r\n"
    part = f"Content-Type: text/plain; charset=utf-8\r\n\r\n{text}"
    for level in range(levels):
        boundary = f"b{level}"
        part = (
            f'{header}multipart/mixed; boundary="{boundary}"\r\n\r\n'
            f"--{boundary}\r\n{part}\r\n--{boundary}--\r\n"
        )
    head, _, body = part.partition("\r\n\r\n")
    return raw_mail(body, headers=head)


def test_deep_mime_nesting_is_a_permanent_refusal(runtime, account):
    with ingress(runtime) as smtp:
        assert send(smtp.port, _nested(3))[0] == 250
        for levels in (MAX_MULTIPARTS + 1, 1_500):
            code, text = send(smtp.port, _nested(levels))
            assert code == 550, (levels, code, text)  # not 451: no retries for days
            assert "nest" in text
        # Folded, the headers escape the count; the parser's depth still tells.
        code, text = send(smtp.port, _nested(1_500, "Content-Type:\r\n "))
        assert code == 550 and "nested" in text, text


def _settings(port: int) -> dict[str, object]:
    return {
        "smtp_replies": "all",
        "smtp_reply_relay": f"127.0.0.1:{port}",
        "smtp_reply_from": "sms-gateway@localhost",
    }


def test_no_reply_to_a_sender_whose_login_failed(runtime, account):
    with relay() as (outbound, recorder):
        with ingress(runtime, **_settings(outbound.port)) as smtp:
            wrong = send(smtp.port, example().replace(b"s3cret", b"guess"))
            unreadable = send(smtp.port, raw_mail("no request here\r\n"))
            accepted = send(smtp.port, example())
            # Replies are sent in the order of the answers; only one comes.
            recorder.received.get(timeout=WAIT)
            try:
                extra = recorder.received.get(timeout=1)
            except queue.Empty:
                extra = None
    assert (wrong[0], unreadable[0], accepted[0]) == (550, 550, 250)
    assert extra is None


def test_a_header_that_cannot_be_replied_to_leaves_the_answer(runtime, account):
    with relay() as (outbound, _):
        with ingress(runtime, **_settings(outbound.port)) as smtp:
            # An encoded word that decodes to a line break.
            code, text = send(smtp.port, example(message_id="=?utf-8?q?a=0Ab?="))
    assert code == 250, text
