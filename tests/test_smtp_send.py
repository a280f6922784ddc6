"""Mails sent with smtplib over loopback; the store is checked through SOAP."""

from __future__ import annotations

import logging
import re
import smtplib

import pytest
import sqlalchemy
from sqlalchemy import select

from soapsms.store.db import make_engine, transaction
from soapsms.store.models import Message
from soapsms.usecases import accounts
from soapsms.usecases.runtime import Runtime
from tests.smtp_helpers import (
    ADDRESS,
    EXAMPLE_LINES,
    example,
    ingress,
    raw_mail,
    send,
)
from tests.soap_helpers import AUTH

BATCH = re.compile(r"accepted as batch ([0-9A-Z]{26})")
REFERENCE = "INC000123.1@helpdesk.example.com"


def _batch(text: str) -> str:
    match = BATCH.search(text)
    assert match, text
    return match.group(1)


def _listed(client) -> list:
    page = client.service.ListMessages(Auth=AUTH)
    return list(page.Messages.MessageStatus) if page.Messages is not None else []


@pytest.mark.parametrize("newline", ["\r\n", "\n", "\r"], ids=["CRLF", "LF", "CR"])
def test_the_issue_example_is_stored_with_any_line_ending(
    newline, runtime, account, client
):
    with ingress(runtime) as smtp:
        code, text = send(smtp.port, example(newline))
    assert code == 250, text
    batch = _batch(text)
    statuses = client.service.GetStatus(Auth=AUTH, BatchId=batch)
    assert [(s.Recipient, s.Status) for s in statuses] == [
        ("+17036069996", "QUEUED"),
        ("+17036069997", "QUEUED"),
    ]
    assert {s.ClientReference for s in statuses} == {REFERENCE}
    by_reference = client.service.GetStatus(Auth=AUTH, ClientReference=REFERENCE)
    assert [s.MessageId for s in by_reference] == [s.MessageId for s in statuses]
    assert len(_listed(client)) == 2


def test_multipart_mail_with_signature_after_end(runtime, account, client):
    from email.message import EmailMessage

    mail = EmailMessage()
    mail["From"], mail["To"], mail["Subject"] = "ops@example.com", ADDRESS, "alert"
    mail["Message-ID"] = "<multi-1@example.com>"
    mail.set_content(
        "\n".join(EXAMPLE_LINES) + "\n-- \nJohn Smith, ACME Operations\n+1 555 0100\n"
        "This e-mail is confidential.\n"
    )
    mail.add_alternative("<p>not this part</p>", subtype="html")
    with ingress(runtime) as smtp:
        code, text = send(smtp.port, mail)
    assert code == 250, text
    listed = _listed(client)
    assert sorted(m.Recipient for m in listed) == ["+17036069996", "+17036069997"]
    with transaction(runtime.engine) as conn:
        texts = set(conn.scalars(select(Message.text)))
    assert texts == {"Server web01 is down"}


def test_quoted_printable_utf8_text_is_ucs2(runtime, account, client):
    from email.message import EmailMessage

    russian = "Сервер web01 не отвечает, база данных недоступна уже 10 минут!"
    mail = EmailMessage()
    mail["From"], mail["To"], mail["Subject"] = "ops@example.com", ADDRESS, "alert"
    mail["Message-ID"] = "<qp-1@example.com>"
    mail.set_content(
        f"id:acme\npassword:s3cret\nmessage:{russian}\n+17036069996\nend\n",
        cte="quoted-printable",
    )
    assert b"=D0=A1" in mail.as_bytes()  # really quoted-printable on the wire
    with ingress(runtime) as smtp:
        code, text = send(smtp.port, mail)
    assert code == 250, text
    (status,) = client.service.GetStatus(Auth=AUTH, BatchId=_batch(text))
    assert status.Parts == 1  # 62 UTF-16 units: one UCS-2 part
    with transaction(runtime.engine) as conn:
        row = conn.execute(select(Message.text, Message.encoding)).one()
    assert (row.text, row.encoding) == (russian, "UCS2")


_TOO_LONG = "\r\n".join(["The nightly job failed again on node " + "x" * 43] * 20)


@pytest.mark.parametrize(
    ("data", "reply", "reason"),
    [
        pytest.param(
            example().replace(b"password:s3cret", b"password:guess"),
            "5.7.8",
            "unknown account or wrong password",
            id="wrong-password",
        ),
        pytest.param(
            example().replace(b"end\r\n", b""),
            "5.6.0",
            "no end line",
            id="missing-end",
        ),
        pytest.param(
            raw_mail(
                f"id:acme\npassword:s3cret\nmessage:{_TOO_LONG}\n17036069996\nend"
            ),
            "5.6.0",
            "parts",
            id="text-too-long",
        ),
        pytest.param(
            raw_mail("id:acme\npassword:s3cret\nmessage:x\n99999\nend\n"),
            "5.6.0",
            "none of the recipients",
            id="no-valid-number",
        ),
    ],
)
def test_refused_mails_are_5xx_and_store_nothing(
    data, reply, reason, runtime, account, client
):
    with ingress(runtime) as smtp:
        code, text = send(smtp.port, data)
    assert (code, text.split(" ")[0]) == (550, reply)
    assert reason in text
    assert _listed(client) == []


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        (lambda rt: accounts.set_disabled(rt, "acme", True), "disabled"),
        (
            lambda rt: accounts.set_networks(rt, "acme", ["10.0.0.0/8"]),
            "127.0.0.1 are not allowed",
        ),
    ],
    ids=["disabled", "network"],
)
def test_access_denied_is_5xx(change, reason, runtime, account, client):
    change(runtime)
    with ingress(runtime) as smtp:
        code, text = send(smtp.port, example())
    assert (code, text.split(" ")[0]) == (550, "5.7.1")
    assert reason in text
    accounts.set_disabled(runtime, "acme", False)  # so that SOAP may look
    accounts.set_networks(runtime, "acme", [])
    assert _listed(client) == []


def test_throttled_logins_are_4xx_so_other_senders_wait(runtime, account, client):
    wrong = example().replace(b"s3cret", b"guess")
    with ingress(runtime, login_failures_per_window=2) as smtp:
        codes = [send(smtp.port, wrong)[0] for _ in range(2)]
        # The source (one relay for many senders) is throttled now: even the
        # right password waits instead of bouncing.
        code, text = send(smtp.port, example())
    assert codes == [550, 451]
    assert (
        code == 451 and text == "4.7.1 too many failed logins lately; try again later"
    )
    assert _listed(client) == []


def test_the_tcp_peer_is_the_source_address(runtime, account, client):
    accounts.set_networks(runtime, "acme", ["127.0.0.0/8"])
    with ingress(runtime) as smtp:
        code, text = send(smtp.port, example())
    assert code == 250, text
    assert len(_listed(client)) == 2


def test_mail_for_another_address_is_refused_at_rcpt(runtime, account, client):
    with ingress(runtime) as smtp:
        with smtplib.SMTP("127.0.0.1", smtp.port, "localhost", timeout=30) as conn:
            conn.ehlo()
            conn.mail("ops@example.com")
            for other in (
                "other@localhost",
                "email@example.com",
                "email@localhost.evil",
            ):
                code, text = conn.rcpt(other)
                assert code == 550 and b"relaying denied" in text, other
            # Nothing was accepted, so there is nothing to send data for.
            with pytest.raises(smtplib.SMTPDataError) as refused:
                conn.data(example())
            assert refused.value.smtp_code == 503
            conn.rset()
            with pytest.raises(smtplib.SMTPRecipientsRefused):
                conn.sendmail("ops@example.com", ["x@example.org"], example())
            # The configured address in any case is ours.
            conn.mail("ops@example.com")
            assert conn.rcpt("Email@LocalHost")[0] == 250
    assert _listed(client) == []


def test_several_configured_addresses(runtime, account, client):
    with ingress(runtime, smtp_address=("sms@gw.example", "email@localhost")) as smtp:
        assert send(smtp.port, example(), rcpt="SMS@gw.example")[0] == 250


def test_the_same_mail_twice_is_one_batch(runtime, account, client):
    with ingress(runtime) as smtp:
        first = send(smtp.port, example())
        second = send(smtp.port, example())
    assert first[0] == second[0] == 250
    assert _batch(first[1]) == _batch(second[1])
    assert len(_listed(client)) == 2


def test_rejected_numbers_are_counted_in_the_reply(runtime, account, client):
    body = (
        "id:acme\npassword:s3cret\nmessage:x\n+17036069996\n99999\n17036069996\nend\n"
    )
    with ingress(runtime) as smtp:
        code, text = send(smtp.port, raw_mail(body))
    assert code == 250
    assert "1 message(s), 2 number(s) rejected" in text
    assert [m.Recipient for m in _listed(client)] == ["+17036069996"]


def test_rate_limited_account_is_4xx_and_a_replay_still_answers(
    runtime, account, client
):
    accounts.set_rate_limit(runtime, "acme", 2)
    with ingress(runtime) as smtp:
        first = send(smtp.port, example(message_id="<a@x>"))
        limited = send(smtp.port, example(message_id="<b@x>"))
        # A re-delivery of the accepted mail is answered from the store.
        replay = send(smtp.port, example(message_id="<a@x>"))
    assert first[0] == 250
    assert limited[0] == 451 and limited[1].startswith("4.7.1")
    assert "rate limit" in limited[1]
    assert replay[0] == 250 and _batch(replay[1]) == _batch(first[1])
    assert len(_listed(client)) == 2


def test_listener_limit_per_connection(runtime, account, client):
    with ingress(runtime, smtp_rate_per_connection=2) as smtp:
        with smtplib.SMTP("127.0.0.1", smtp.port, "localhost", timeout=30) as conn:
            codes = [
                send(smtp.port, example(message_id=f"<{i}@x>"), client=conn)[0]
                for i in range(3)
            ]
        # Another connection has its own allowance.
        fresh = send(smtp.port, example(message_id="<3@x>"))[0]
    assert codes == [250, 250, 451]
    assert fresh == 250
    assert len(_listed(client)) == 6


def test_listener_limit_per_account(runtime, account, client):
    with ingress(runtime, smtp_rate_per_account=1) as smtp:
        first = send(smtp.port, example(message_id="<1@x>"))
        second = send(smtp.port, example(message_id="<2@x>"))
    assert first[0] == 250
    assert second[0] == 451 and "mails a minute for this account" in second[1]
    assert len(_listed(client)) == 2


def test_message_size_limit(runtime, account, client):
    padding = "X-Padding: " + "p" * 900 + "\n"
    with ingress(runtime, smtp_max_message_bytes=2048) as smtp:
        assert send(smtp.port, example())[0] == 250
        code, _ = send(smtp.port, example(headers=padding * 3, message_id="<big@x>"))
    assert code == 552
    assert len(_listed(client)) == 2


def _unreachable(url: str, tmp_path) -> str:
    parsed = sqlalchemy.engine.make_url(url)
    if parsed.get_backend_name() == "sqlite":
        return f"sqlite:///{tmp_path / 'missing' / 'soapsms.db'}"
    # A loopback port nobody listens on.
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return parsed.set(port=port).render_as_string(hide_password=False)


def test_store_unreachable_is_4xx(runtime, account, client, tmp_path):
    broken = Runtime(
        runtime.settings,
        engine=make_engine(_unreachable(runtime.settings.database_url, tmp_path)),
    )
    try:
        with ingress(broken) as smtp:
            code, text = send(smtp.port, example())
    finally:
        broken.close()
    assert code == 451 and text.startswith("4.3.0")
    assert "unavailable" in text
    assert _listed(client) == []


def test_one_log_line_per_mail_without_secrets(runtime, account, client, caplog):
    caplog.set_level(logging.INFO)
    with ingress(runtime) as smtp:
        _, text = send(smtp.port, example())
        send(smtp.port, example(message_id="<2@x>").replace(b"s3cret", b"guess"))
    lines = [
        r.getMessage()
        for r in caplog.records
        if r.name == "soapsms.smtp_ingress.handler"
    ]
    assert len(lines) == 2
    assert re.fullmatch(
        rf"smtp mail account=acme source=127\.0\.0\.1 tls=no outcome=accepted "
        rf"batch={_batch(text)} reference={re.escape(REFERENCE)} reply='250 .*' "
        r"duration_ms=[\d.]+",
        lines[0],
    )
    assert (
        "outcome=AuthenticationFailed batch=- reference=2@x reply='550 5.7.8"
        in lines[1]
    )
    everything = "\n".join(
        r.getMessage() for r in caplog.records if r.levelno >= logging.INFO
    )
    assert "s3cret" not in everything and "guess" not in everything
    assert "web01" not in everything
