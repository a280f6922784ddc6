"""`soapsms messages find`: an operator looks messages up from a shell."""

from __future__ import annotations

import pytest

from soapsms import cli
from tests.dispatch_helpers import send_to


@pytest.fixture
def run(settings, runtime, monkeypatch, capsys):
    monkeypatch.setattr(cli, "load_settings", lambda path=None: settings)

    def invoke(*argv: str) -> tuple[int, list[list[str]], str]:
        code = cli.main(["messages", "find", "--account", "acme", *argv])
        out, err = capsys.readouterr()
        return code, [line.split("\t") for line in out.splitlines()[1:]], err

    return invoke


def test_find_by_reference_id_recipient_and_status(run, runtime, account):
    sent = send_to(
        runtime, "acme", "+17036069996", "+17036069997", client_reference="INC-7"
    )
    first, second = (m.message_id for m in sent.messages)

    code, rows, _ = run("--reference", "INC-7")
    assert code == 0
    assert [(r[0], r[1], r[2], r[6]) for r in rows] == [
        (first, "QUEUED", "+17036069996", "INC-7"),
        (second, "QUEUED", "+17036069997", "INC-7"),
    ]
    code, rows, _ = run("--id", second, "01ARZ3NDEKTSV4RRFFQ69G5FAV")
    assert code == 0 and [(r[0], r[1]) for r in rows] == [
        (second, "QUEUED"),
        ("01ARZ3NDEKTSV4RRFFQ69G5FAV", "UNKNOWN"),
    ]
    code, rows, _ = run("--recipient", "17036069997")
    assert code == 0 and [r[0] for r in rows] == [second]
    code, rows, _ = run("--status", "DELIVERED")
    assert code == 1 and rows == []


def test_retry_sends_failed_messages_again_as_new_ones(
    settings, runtime, account, monkeypatch, capsys
):
    from sqlalchemy import update

    from soapsms.store import models
    from soapsms.store.db import transaction
    from soapsms.usecases import query
    from soapsms.usecases.accounts import get
    from soapsms.usecases.requests import Selector

    monkeypatch.setattr(cli, "load_settings", lambda path=None: settings)
    sent = send_to(runtime, "acme", "+17036069996", "+17036069997", text="disk full")
    failed, queued = (m.message_id for m in sent.messages)
    with transaction(runtime.engine, write=True) as conn:
        conn.execute(
            update(models.Message)
            .where(models.Message.message_id == failed)
            .values(status="FAILED", error_code="ROUTING_ERROR")
        )

    argv = ["messages", "retry", "--account", "acme"]
    assert cli.main([*argv, queued]) == 2
    assert f"message {queued} is QUEUED" in capsys.readouterr().err
    assert cli.main([*argv, "01ARZ3NDEKTSV4RRFFQ69G5FAV"]) == 2
    assert "no message 01ARZ3NDEKTSV4RRFFQ69G5FAV" in capsys.readouterr().err

    assert cli.main([*argv, failed.lower()]) == 0
    old, new, state = capsys.readouterr().out.split()
    assert (old, state) == (failed, "QUEUED") and new not in (failed, queued)
    acme = get(runtime, "acme")
    again = query.get_status(runtime, acme, Selector(message_ids=(new, failed)))
    assert [(m.recipient, m.status) for m in again] == [
        ("+17036069996", "QUEUED"),
        ("+17036069996", "FAILED"),
    ]


def test_requeue_makes_a_waiting_message_due_now(
    settings, runtime, account, monkeypatch, capsys
):
    from datetime import timedelta

    from sqlalchemy import update

    from soapsms.store import models
    from soapsms.store.db import transaction
    from tests.dispatch_helpers import history, message

    monkeypatch.setattr(cli, "load_settings", lambda path=None: settings)
    sent = send_to(runtime, "acme", "+17036069996", "+17036069997")
    waiting, delivered = (m.message_id for m in sent.messages)
    later = runtime.now() + timedelta(minutes=10)  # on a retry's back-off
    with transaction(runtime.engine, write=True) as conn:
        conn.execute(
            update(models.Message)
            .where(models.Message.message_id == waiting)
            .values(due_at=later)
        )
        conn.execute(
            update(models.Message)
            .where(models.Message.message_id == delivered)
            .values(status="DELIVERED")
        )

    code = cli.main(["messages", "requeue", "--account", "acme", waiting, delivered])
    lines = [line.split("\t") for line in capsys.readouterr().out.splitlines()]
    assert code == 1  # one of them could not be
    assert lines == [
        [waiting, "due now"],
        [delivered, "DELIVERED: only QUEUED messages wait"],
    ]
    assert message(runtime, waiting).due_at <= runtime.now()
    assert "requeued by an operator: due now" in [
        h.detail for h in history(runtime, waiting)
    ]
    assert cli.main(["messages", "requeue", "--account", "acme", waiting]) == 0
    assert capsys.readouterr().out == f"{waiting}\tdue already\n"
    assert cli.main(["messages", "requeue", "--account", "acme", "nope"]) == 2
    assert "'NOPE' is not a MessageId" in capsys.readouterr().err
