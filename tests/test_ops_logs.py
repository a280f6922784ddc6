"""Logs: one key=value line per SOAP call, SMTP mail and status change, and
neither passwords nor message texts anywhere, even at DEBUG, unless
log_message_text is switched on."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest
import zeep

from soapsms.dispatch.worker import Dispatcher
from soapsms.store import repository
from soapsms.store.db import transaction
from soapsms.store.migrate import upgrade
from soapsms.usecases import accounts
from soapsms.usecases.runtime import Runtime
from tests.conftest import LiveServer, make_settings
from tests.dispatch_helpers import (
    ScriptedConnector,
    acme_runtime,
    running,
    send_to,
    status_of,
    wait_for,
)
from tests.smtp_helpers import ingress, raw_mail, send

PASSWORD = "pw-Zebra-4711"
TEXT = "Quarterly numbers leak 9137"
SMTP_TEXT = "Mail body secret 5521"


@pytest.fixture
def rt(db_url: str) -> Iterator[Runtime]:
    runtime = Runtime(make_settings(db_url))
    upgrade(runtime.engine)
    accounts.create_account(runtime, "acme", PASSWORD, "ACME Corp")
    yield runtime
    runtime.close()


def _everything(caplog: pytest.LogCaptureFixture) -> str:
    """Every captured record, message and arguments, as text."""
    return "\n".join(
        f"{r.name} {r.getMessage()} {r.args!r} {r.exc_text or ''}"
        for r in caplog.records
    )


def test_no_password_or_text_in_logs_at_debug(rt, caplog):
    # The SOAP client's own DEBUG logging prints the envelope it sends; that
    # is the caller's side, not ours.
    caplog.set_level(logging.WARNING, logger="zeep")
    caplog.set_level(logging.DEBUG)
    connector = ScriptedConnector("simulator")

    with LiveServer(rt) as live:
        client = zeep.Client(f"{live.url}/soap?wsdl")
        sent = client.service.SendMessage(
            Auth={"AccountId": "acme", "Password": PASSWORD},
            Message={"Text": TEXT, "RecipientsText": "+17036069996"},
        )
    message_id = sent.Messages.MessageReceipt[0].MessageId
    with ingress(rt) as listener:
        body = f"id:acme\npassword:{PASSWORD}\nmessage:{SMTP_TEXT}\n17036069997\nend\n"
        code, _ = send(listener.port, raw_mail(body))
        assert code == 250
    with running(Dispatcher(rt, {"simulator": connector}, callbacks=False)):
        wait_for(lambda: status_of(rt, message_id) == "SUBMITTED")
        carrier_id = next(
            f"simulator-{n + 1}"
            for n, s in enumerate(connector.submitted)
            if s.message_id == message_id
        )
        connector.receipt(carrier_id, "DELIVRD")
        wait_for(lambda: status_of(rt, message_id) == "DELIVERED")

    logged = _everything(caplog)
    assert PASSWORD not in logged
    assert TEXT not in logged and SMTP_TEXT not in logged
    lines = [r.getMessage() for r in caplog.records]
    assert any(
        line.startswith("soap call account=acme source=127.0.0.1 ")
        and "operation=SendMessage outcome=ok duration_ms=" in line
        for line in lines
    )
    assert any(
        line.startswith("smtp mail account=acme ") and "outcome=accepted" in line
        for line in lines
    )
    assert f"status change message={message_id} old=QUEUED new=SUBMITTED code=-" in (
        lines
    )
    assert f"status change message={message_id} old=SUBMITTED new=DELIVERED code=-" in (
        lines
    )


def test_message_text_is_logged_only_when_switched_on(db_url, caplog):
    caplog.set_level(logging.DEBUG, logger="soapsms")
    with acme_runtime(db_url) as rt:
        send_to(rt, "acme", "+17036069996", text=TEXT)
        assert TEXT not in _everything(caplog)
        debugging = Runtime(rt.settings.replace(log_message_text=True), rt.engine)
        send_to(debugging, "acme", "+17036069996", text=TEXT)
        assert TEXT in _everything(caplog)


def test_a_cancellation_is_a_status_change_line(db_url, caplog):
    from soapsms.usecases import query
    from soapsms.usecases.auth import account_view
    from soapsms.usecases.requests import Selector

    caplog.set_level(logging.INFO, logger="soapsms")
    with acme_runtime(db_url) as rt:
        sent = send_to(rt, "acme", "+17036069996")
        message_id = sent.messages[0].message_id
        with transaction(rt.engine) as conn:
            account = account_view(repository.get_account(conn, "acme"))
        query.cancel_messages(rt, account, Selector((message_id,), None, None))
    lines = [r.getMessage() for r in caplog.records]
    assert f"status change message={message_id} old=QUEUED new=CANCELLED code=-" in (
        lines
    )


def test_json_lines_for_log_shippers(capsys):
    import json

    from soapsms import logs

    logs.configure("INFO", "json")
    try:
        logging.getLogger("soapsms.test").info("soap call account=%s", "acme")
        logging.getLogger("gunicorn.access").info('127.0.0.1 "GET /health" 200')
    finally:
        logs.configure("WARNING", "text")
        logging.getLogger().handlers.clear()
    entries = [json.loads(line) for line in capsys.readouterr().err.splitlines()]
    assert [(e["level"], e["logger"], e["message"]) for e in entries] == [
        ("INFO", "soapsms.test", "soap call account=acme"),
        ("INFO", "gunicorn.access", '127.0.0.1 "GET /health" 200'),
    ]
    assert all(e["time"].endswith("Z") for e in entries)
