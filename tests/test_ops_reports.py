"""`soapsms report`: one row per message or a summary by day, CSV or JSON, in
UTC days or another zone's; streamed, so memory stays flat."""

from __future__ import annotations

import csv
import io
import json
import tracemalloc
from datetime import date, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import insert

from soapsms import cli
from soapsms.domain.ids import new_ids
from soapsms.store import models
from soapsms.store.db import transaction
from soapsms.usecases import accounts, reports
from tests.dispatch_helpers import acme_runtime

STATUSES = ("DELIVERED", "DELIVERED", "UNDELIVERED", "QUEUED", "CANCELLED")


def seed(rt: Any, account: str, at: datetime, count: int, parts: int = 1) -> list[str]:
    """`count` messages of one batch created at `at`, statuses in turn."""
    created_at, ids = new_ids(count + 1, at)
    rows = [
        {
            "message_id": message_id,
            "created_at": created_at,
            "batch_id": ids[0],
            "account_id": account,
            "client_reference": f"REF-{ids[0][-4:]}",
            "recipient": f"+1703606{n % 10000:04d}",
            "sender": "ACME",
            "text": "secret text",
            "encoding": "GSM7",
            "parts": parts,
            "status": STATUSES[n % len(STATUSES)],
            "error_code": "UNKNOWN" if STATUSES[n % 5] == "UNDELIVERED" else None,
            "parts_delivered": parts if STATUSES[n % 5] == "DELIVERED" else 0,
            "due_at": created_at,
            "expires_at": created_at + timedelta(days=2),
            "validity_minutes": 2880,
            "submitted_at": created_at + timedelta(seconds=1),
            "done_at": None,
            "updated_at": created_at,
            "charged": parts,
            "attempts": 1,
        }
        for n, message_id in enumerate(ids[1:])
    ]
    with transaction(rt.engine, write=True) as conn:
        for start in range(0, len(rows), 5000):
            conn.execute(insert(models.Message), rows[start : start + 5000])
    return ids[1:]


def run(rt: Any, rng: reports.ReportRange, fmt: str, summary: bool = False) -> str:
    out = io.StringIO()
    reports.write(rt, rng, out, fmt, summarize=summary)
    return out.getvalue()


def test_rows_and_summary_in_csv_and_json(db_url):
    with acme_runtime(db_url) as rt:
        accounts.create_account(rt, "other", "pw", "Other")
        day1 = seed(rt, "acme", datetime(2026, 1, 10, 9), 5, parts=2)
        late = seed(rt, "acme", datetime(2026, 1, 10, 23, 30), 2)  # Paris: the 11th
        day2 = seed(rt, "acme", datetime(2026, 1, 11, 12), 5)
        seed(rt, "acme", datetime(2026, 1, 12, 0, 0), 3)  # after --until
        seed(rt, "acme", datetime(2026, 1, 9, 23, 59), 3)  # before --since
        seed(rt, "other", datetime(2026, 1, 10, 12), 4)  # another account
        rng = reports.ReportRange("acme", date(2026, 1, 10), date(2026, 1, 11))

        rows = list(csv.DictReader(io.StringIO(run(rt, rng, "csv"))))
        assert [r["message_id"] for r in rows] == day1 + late + day2
        first = rows[0]
        assert first["batch_id"] and first["client_reference"].startswith("REF-")
        assert first["recipient"] == "+17036060000" and first["sender"] == "ACME"
        assert (first["status"], first["parts"], first["parts_delivered"]) == (
            "DELIVERED",
            "2",
            "2",
        )
        assert first["created_at"] == "2026-01-10T09:00:00.000+00:00"
        assert first["submitted_at"] == "2026-01-10T09:00:01.000+00:00"
        assert first["done_at"] == "" and first["credits"] == "2"
        assert rows[2]["error_code"] == "UNKNOWN"
        assert "secret text" not in run(rt, rng, "csv")

        as_json = json.loads(run(rt, rng, "json"))
        assert [r["message_id"] for r in as_json] == [r["message_id"] for r in rows]
        assert as_json[0]["parts"] == 2 and as_json[0]["done_at"] is None

        summary = json.loads(run(rt, rng, "json", summary=True))
        assert summary == [
            {
                "day": "2026-01-10",
                "sent": 7,
                "delivered": 4,  # 2 of the five, both of the late two
                "failed": 1,
                "cancelled": 1,
                "pending": 1,
                "parts": 12,
                "parts_delivered": 6,
                "credits": 12,
            },
            {
                "day": "2026-01-11",
                "sent": 5,
                "delivered": 2,
                "failed": 1,
                "cancelled": 1,
                "pending": 1,
                "parts": 5,
                "parts_delivered": 2,
                "credits": 5,
            },
        ]
        # In Paris (UTC+1) the late pair belongs to the 11th, 23:59 UTC on the
        # 9th is the 10th, and 00:00 UTC on the 12th is still the 12th.
        paris = reports.ReportRange(
            "acme", date(2026, 1, 10), date(2026, 1, 11), "Europe/Paris"
        )
        local = list(csv.DictReader(io.StringIO(run(rt, paris, "csv", summary=True))))
        assert [(d["day"], d["sent"]) for d in local] == [
            ("2026-01-10", "8"),
            ("2026-01-11", "7"),
        ]
        assert (
            json.loads(
                run(
                    rt,
                    reports.ReportRange("acme", date(2025, 1, 1), date(2025, 1, 2)),
                    "json",
                )
            )
            == []
        )


def test_summary_by_month_in_the_zone_and_from_the_cli(sqlite_url, monkeypatch, capsys):
    monkeypatch.setenv("SOAPSMS_DATABASE_URL", sqlite_url)
    with acme_runtime(sqlite_url) as rt:
        seed(rt, "acme", datetime(2026, 1, 31, 12), 2)
        seed(rt, "acme", datetime(2026, 1, 31, 23, 30), 3)  # Paris: February 1st
        seed(rt, "acme", datetime(2026, 2, 14, 9), 4, parts=2)
    base = ["report", "--account", "acme", "--since", "2026-01-01"]
    assert cli.main([*base, "--until", "2026-02-28", "--summary", "month"]) == 0
    rows = list(csv.DictReader(io.StringIO(capsys.readouterr().out)))
    assert [(r["month"], r["sent"], r["parts"]) for r in rows] == [
        ("2026-01", "5", "5"),
        ("2026-02", "4", "8"),
    ]
    paris = [*base, "--until", "2026-02-28", "--tz", "Europe/Paris"]
    assert cli.main([*paris, "--summary", "month", "--format", "json"]) == 0
    got = json.loads(capsys.readouterr().out)
    assert [(r["month"], r["sent"]) for r in got] == [("2026-01", 2), ("2026-02", 7)]
    # Plain --summary stays per day.
    assert cli.main([*base, "--until", "2026-01-31", "--summary"]) == 0
    assert capsys.readouterr().out.splitlines()[0].startswith("day,sent,")
    with pytest.raises(SystemExit) as refused:
        cli.main([*base, "--until", "2026-01-31", "--summary", "week"])
    assert refused.value.code == 2
    assert "invalid choice: 'week'" in capsys.readouterr().err


def test_cli_report_refuses_unknown_account_and_zone(
    sqlite_url, monkeypatch, capsys, tmp_path
):
    monkeypatch.setenv("SOAPSMS_DATABASE_URL", sqlite_url)
    with acme_runtime(sqlite_url) as rt:
        seed(rt, "acme", datetime(2026, 1, 10, 9), 3)
    base = ["report", "--since", "2026-01-10", "--until", "2026-01-10"]
    assert cli.main([*base, "--account", "nobody"]) == 2
    assert "no account" in capsys.readouterr().err
    assert cli.main([*base, "--account", "acme", "--tz", "Mars/Olympus"]) == 2
    assert "unknown time zone" in capsys.readouterr().err
    out = tmp_path / "r.csv"
    assert cli.main([*base, "--account", "acme", "--out", str(out)]) == 0
    assert len(out.read_text().splitlines()) == 4


class _Discard(io.TextIOBase):
    def write(self, text: str) -> int:
        return len(text)


def _peak(rt: Any, rng: reports.ReportRange, fmt: str) -> int:
    tracemalloc.start()
    try:
        # Small pages keep the test quick; the point is that the peak is one
        # page whatever the number of rows.
        written = reports.write(rt, rng, _Discard(), fmt, page=250)
        return tracemalloc.get_traced_memory()[1] if written else 0
    finally:
        tracemalloc.stop()


def test_memory_stays_flat_from_1k_to_10k_rows(sqlite_url):
    with acme_runtime(sqlite_url) as rt:
        accounts.create_account(rt, "big", "pw", "Big")
        seed(rt, "acme", datetime(2026, 1, 10, 9), 1_000)
        for hour in range(2):
            seed(rt, "big", datetime(2026, 1, 10, hour), 5_000)
        day = date(2026, 1, 10)
        for fmt in ("csv", "json"):
            small = _peak(rt, reports.ReportRange("acme", day, day), fmt)
            large = _peak(rt, reports.ReportRange("big", day, day), fmt)
            assert small > 0
            # Ten times the rows, about the same peak: one page at a time.
            assert large < small * 1.5 + 128 * 1024, (fmt, small, large)
