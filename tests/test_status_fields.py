"""The status-field declaration: a new field is one line, and every reader and writer shows it."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from dataclasses import fields
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from lxml import etree

from soapsms.domain import status_fields
from soapsms.domain.timestamps import format_utc
from soapsms.soap import types as t
from soapsms.soap.app import build_application
from soapsms.soap.wsdl import build as build_wsdl
from soapsms.store import reports as report_reads
from soapsms.usecases import reports
from soapsms.usecases.results import MessageStatus

ROOT = Path(__file__).resolve().parent.parent
XSD = "{http://www.w3.org/2001/XMLSchema}"
# The one line: a field backed by an existing column (expires_at), reported last.
NEW_LINE = '    expires_at: datetime | None = told("ExpiresAt", report=14)\n'
AFTER = '    updated_at: datetime | None = told("UpdatedAt")\n'

# Run against the copy with the line added: every way a status leaves the
# gateway, for one message sent through the use cases.
PROBE = """
import json, sys
from datetime import date, timedelta
from io import StringIO

from soapsms.dispatch import callbacks
from soapsms.domain import status_fields
from soapsms.domain.timestamps import format_utc
from soapsms.soap import types as t, writer
from soapsms.soap.app import build_application
from soapsms.soap.wsdl import build
from soapsms.usecases import accounts, query, reports
from soapsms.usecases.dispatching import events
from soapsms.usecases.dispatching.callbacks import PendingCallback
from soapsms.usecases.requests import ListQuery, Selector
from tests.dispatch_helpers import acme_runtime, message, send_to

with acme_runtime(sys.argv[1]) as rt:
    sent = send_to(rt, "acme", "+17036069996", validity_minutes=90)
    message_id = sent.messages[0].message_id
    account = accounts.get(rt, "acme")
    (m,) = query.get_status(rt, account, Selector(message_ids=(message_id,)))
    (listed,) = query.list_messages(rt, account, ListQuery()).messages
    event = PendingCallback("E1", "http://example.com/", m.updated_at, m, 1, None)
    outbox = events.payload(message(rt, message_id), None)
    report = StringIO()
    today = date.today()
    rng = reports.ReportRange("acme", today - timedelta(days=1), today + timedelta(1))
    reports.write(rt, rng, report, "json")
    print(json.dumps({
        "value": m.expires_at.isoformat(),
        "created": m.created_at.isoformat(),
        "listed": listed == m,
        "wire_type": list(t.MessageStatus.get_flat_type_info(t.MessageStatus)),
        "wsdl": build(build_application("1.1"), "1.1").decode(),
        "soap": writer.status_list("GetStatus", [m]).xml,
        "callback": callbacks.render(event).decode(),
        "outbox": status_fields.from_json(json.loads(outbox)) == m,
        "report": json.loads(report.getvalue()),
        "report_fields": list(reports.FIELDS),
    }))
"""


def _status_elements(wsdl: bytes) -> list[tuple[str | None, str | None]]:
    """(name, minOccurs) of the WSDL's MessageStatus elements, in order."""
    (status_type,) = [
        c
        for c in etree.fromstring(wsdl).iter(f"{XSD}complexType")
        if c.get("name") == "MessageStatus"
    ]
    return [
        (e.get("name"), e.get("minOccurs")) for e in status_type.iter(f"{XSD}element")
    ]


def _with_new_field(tmp_path: Path) -> Path:
    """A copy of the package with the one line added to the declaration."""
    copy = tmp_path / "src"
    shutil.copytree(
        ROOT / "soapsms", copy / "soapsms", ignore=shutil.ignore_patterns("__pycache__")
    )
    declaration = copy / "soapsms" / "domain" / "status_fields.py"
    text = declaration.read_text()
    assert text.count(AFTER) == 1
    declaration.write_text(text.replace(AFTER, AFTER + NEW_LINE))
    return copy


def _probe(copy: Path, db_url: str) -> dict[str, Any]:
    env = {**os.environ, "PYTHONPATH": f"{copy}{os.pathsep}{ROOT}"}
    done = subprocess.run(
        [sys.executable, "-c", PROBE, db_url],
        cwd=copy,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    found: dict[str, Any] = json.loads(done.stdout.splitlines()[-1])
    return found


def test_a_new_status_field_is_one_line_and_shows_everywhere(
    tmp_path: Path, db_url: str
) -> None:
    found = _probe(_with_new_field(tmp_path), db_url)
    # created_at + 90 minutes, read from its column
    value = datetime.fromisoformat(found["value"])
    assert value - datetime.fromisoformat(found["created"]) == timedelta(minutes=90)
    stamp = format_utc(value)

    assert found["wire_type"][-2:] == ["UpdatedAt", "ExpiresAt"]
    assert _status_elements(found["wsdl"].encode())[-1] == ("ExpiresAt", "0")
    assert (
        f"<tns:ExpiresAt>{stamp}</tns:ExpiresAt></tns:MessageStatus>" in found["soap"]
    )
    assert f"<ExpiresAt>{stamp}</ExpiresAt></MessageStatus>" in found["callback"]
    assert found["outbox"] and found["listed"]
    assert found["report_fields"][-1] == "expires_at"
    (row,) = found["report"]
    local = value.replace(tzinfo=UTC).isoformat(timespec="milliseconds")
    assert row["expires_at"] == local


def test_the_declaration_is_what_every_side_reads() -> None:
    names = [f.name for f in fields(MessageStatus)]
    assert [f.name for f in status_fields.FIELDS] == names
    wire = [f.wire for f in status_fields.FIELDS]
    assert list(t.MessageStatus.get_flat_type_info(t.MessageStatus)) == wire
    assert [f.name for f in status_fields.FIELDS if f.required] == [
        "message_id",
        "status",
    ]
    # The report's columns: reported status fields and the credits, in place.
    assert reports.FIELDS == (
        "message_id",
        "batch_id",
        "client_reference",
        "recipient",
        "sender",
        "status",
        "error_code",
        "parts",
        "parts_delivered",
        "credits",
        "created_at",
        "submitted_at",
        "done_at",
    )
    assert [c.name for c in report_reads.COLUMNS][9] == "charged"
    document = build_wsdl(build_application("1.1"), "1.1")
    assert [name for name, _ in _status_elements(document)] == wire
