"""Helpers for SMTP tests: the ingress on port 0, a recording relay, smtplib sends."""

from __future__ import annotations

import queue
import smtplib
from collections.abc import Iterator
from contextlib import contextmanager
from email.message import EmailMessage
from typing import Any

from soapsms.smtp_ingress.server import SmtpListener, build
from soapsms.usecases.runtime import Runtime

ADDRESS = "email@localhost"
SENDER = "ops@example.com"
EXAMPLE_LINES = [
    "id:acme",
    "password:s3cret",
    "message:Server web01 is down",
    "17036069996",
    "17036069997",
    "end",
]


@contextmanager
def ingress(runtime: Runtime, **changes: Any) -> Iterator[SmtpListener]:
    """The ingress on a free loopback port, sharing the test's store; `changes`
    adjust its settings (smtp_* limits, TLS, replies)."""
    settings = runtime.settings.replace(**changes) if changes else runtime.settings
    rt = Runtime(settings, engine=runtime.engine)
    with build(rt, "127.0.0.1", 0) as listener:  # start() returns once it listens
        yield listener


def raw_mail(
    body: bytes | str,
    *,
    message_id: str | None = "<INC000123.1@helpdesk.example.com>",
    headers: str = "",
    newline: str = "\r\n",
) -> bytes:
    """A mail as bytes: the given body after a few headers."""
    head = [f"From: {SENDER}", f"To: {ADDRESS}", "Subject: alert"]
    if message_id is not None:
        head.append(f"Message-ID: {message_id}")
    head.extend(h for h in headers.splitlines() if h)
    data = body.encode() if isinstance(body, str) else body
    return (newline.join(head) + newline + newline).encode() + data


def example(newline: str = "\r\n", **kwargs: Any) -> bytes:
    """The issue's example mail, every line ended by `newline`."""
    return raw_mail(newline.join(EXAMPLE_LINES) + newline, newline=newline, **kwargs)


def send(
    port: int,
    data: bytes | EmailMessage,
    *,
    rcpt: str = ADDRESS,
    mail_from: str = SENDER,
    client: smtplib.SMTP | None = None,
) -> tuple[int, str]:
    """(code, text) of the server's answer to DATA."""
    if isinstance(data, EmailMessage):
        data = data.as_bytes()
    own = client is None
    smtp = client or smtplib.SMTP("127.0.0.1", port, "localhost", timeout=30)
    try:
        smtp.ehlo_or_helo_if_needed()
        smtp.mail(mail_from)
        code, text = smtp.rcpt(rcpt)
        assert code == 250, (code, text)
        try:
            code, text = smtp.data(data)
        except smtplib.SMTPDataError as exc:
            code, text = exc.smtp_code, exc.smtp_error
        return code, text.decode()
    finally:
        if own:
            smtp.quit()


class RecordingHandler:
    """The relay's handler: every mail handed to it goes into `received`."""

    def __init__(self) -> None:
        self.received: queue.Queue[tuple[str, list[str], bytes]] = queue.Queue()

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
        self.received.put(
            (envelope.mail_from, list(envelope.rcpt_tos), envelope.original_content)
        )
        return "250 OK"


@contextmanager
def relay() -> Iterator[tuple[SmtpListener, RecordingHandler]]:
    """A second aiosmtpd instance on loopback, standing in for the outbound relay."""
    handler = RecordingHandler()
    with SmtpListener(handler, "127.0.0.1", 0) as listener:
        yield listener, handler
