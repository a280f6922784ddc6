"""`soapsms purge`: removes only what is older than the retention period, in
batches; on PostgreSQL drops whole monthly partitions; never under 2 years."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import func, insert, select

from soapsms import cli
from soapsms.domain.ids import new_ids
from soapsms.domain.retention import Retention, parse_retention
from soapsms.errors import ValidationError
from soapsms.store import models
from soapsms.store import retention as store_retention
from soapsms.store.db import transaction
from soapsms.store.partitions import ensure_partitions, partition_name
from soapsms.usecases.retention import purge
from tests.dispatch_helpers import acme_runtime, send_to

PER_MESSAGE = {
    "messages": models.Message,
    "status_history": models.StatusHistory,
    "message_parts": models.MessagePart,
    "callback_outbox": models.CallbackEvent,
}


@pytest.mark.parametrize("text", ["1y", "23m", "729d", "0d", "", "7 years", "-7y"])
def test_periods_under_the_legal_minimum_or_malformed_are_refused(text):
    with pytest.raises(ValidationError):
        parse_retention(text)


@pytest.mark.parametrize(
    ("now", "text", "cutoff"),
    [
        (datetime(2026, 2, 28, 12), "7y", datetime(2019, 2, 28, 12)),
        (datetime(2026, 2, 28, 12), "24m", datetime(2024, 2, 28, 12)),
        (datetime(2026, 2, 28, 12), "730d", datetime(2024, 2, 29, 12)),
        # From a 29 February to a year without one: its last day of February.
        (datetime(2028, 2, 29), "7Y", datetime(2021, 2, 28)),
        (datetime(2026, 3, 31), "36m", datetime(2023, 3, 31)),
    ],
)
def test_periods_count_calendar_years_months_and_days(now, text, cutoff):
    assert parse_retention(text).cutoff(now) == cutoff


def test_cli_refuses_a_short_period_naming_the_legal_minimum(
    sqlite_url, monkeypatch, capsys
):
    monkeypatch.setenv("SOAPSMS_DATABASE_URL", sqlite_url)
    assert cli.main(["purge", "--older-than", "1y"]) == 2
    assert "legal minimum of 2 years" in capsys.readouterr().err
    assert cli.main(["db", "upgrade"]) == 0
    assert cli.main(["purge", "--dry-run"]) == 0  # the configured 7 years
    out = capsys.readouterr().out
    assert "retention 7y" in out and "messages: 0 rows would go" in out


def seed(rt: Any, at: datetime, count: int = 3) -> list[str]:
    """A batch of `count` messages created at `at`, with history, a part, a
    callback, a receipt, an inbound message and a rate event of the same age."""
    created_at, ids = new_ids(count + 1, at)
    batch_id, message_ids = ids[0], ids[1:]
    with transaction(rt.engine, write=True) as conn:
        conn.execute(
            insert(models.Batch),
            [
                {
                    "batch_id": batch_id,
                    "account_id": "acme",
                    "content_hash": "x",
                    "accepted_count": count,
                    "rejected": "[]",
                    "created_at": created_at,
                }
            ],
        )
        conn.execute(
            insert(models.Message),
            [
                {
                    "message_id": message_id,
                    "created_at": created_at,
                    "batch_id": batch_id,
                    "account_id": "acme",
                    "recipient": "+17036069996",
                    "text": "old news",
                    "encoding": "GSM7",
                    "parts": 1,
                    "status": "DELIVERED",
                    "parts_delivered": 1,
                    "due_at": created_at,
                    "expires_at": created_at + timedelta(days=2),
                    "validity_minutes": 2880,
                    "submitted_at": created_at,
                    "done_at": created_at,
                    "updated_at": created_at,
                    "charged": 0,
                    "attempts": 1,
                }
                for message_id in message_ids
            ],
        )
        conn.execute(
            insert(models.StatusHistory),
            [
                {
                    "message_id": message_id,
                    "message_created_at": created_at,
                    "status": "DELIVERED",
                    "occurred_at": created_at,
                }
                for message_id in message_ids
            ],
        )
        conn.execute(
            insert(models.MessagePart),
            [
                {
                    "message_id": message_id,
                    "message_created_at": created_at,
                    "part_no": 1,
                    "connector": "c",
                    "carrier_id": message_id,
                    "status": "DELIVERED",
                    "submitted_at": created_at,
                }
                for message_id in message_ids
            ],
        )
        conn.execute(
            insert(models.CallbackEvent),
            [
                {
                    "event_id": new_ids(1, at)[1][0],
                    "message_id": message_ids[0],
                    "message_created_at": created_at,
                    "account_id": "acme",
                    "url": "https://example.com/cb",
                    "payload": "{}",
                    "occurred_at": created_at,
                    "state": "failed",
                    "next_attempt_at": created_at,
                    "give_up_at": created_at,
                }
            ],
        )
        conn.execute(
            insert(models.ReceiptRecord),
            [
                {
                    "connector": "c",
                    "carrier_id": message_ids[0],
                    "stat": "DELIVRD",
                    "received_at": created_at,
                    "outcome": "applied",
                }
            ],
        )
        conn.execute(
            insert(models.InboundMessage),
            [
                {
                    "connector": "c",
                    "sender": "+17036069996",
                    "recipient": "1234",
                    "text": "STOP",
                    "received_at": created_at,
                    "extra": "{}",
                }
            ],
        )
        conn.execute(
            insert(models.RateEvent),
            [{"account_id": "acme", "at": created_at, "count": count}],
        )
    return message_ids


def counts(rt: Any) -> dict[str, int]:
    tables = {
        **PER_MESSAGE,
        "batches": models.Batch,
        "receipts": models.ReceiptRecord,
        "inbound_messages": models.InboundMessage,
        "rate_events": models.RateEvent,
    }
    with transaction(rt.engine) as conn:
        return {
            name: int(conn.scalar(select(func.count()).select_from(model)) or 0)
            for name, model in tables.items()
        }


def message_ids(rt: Any) -> set[str]:
    with transaction(rt.engine) as conn:
        return set(conn.scalars(select(models.Message.message_id)))


def test_purge_removes_only_what_is_older_than_the_period(db_url):
    with acme_runtime(db_url) as rt:
        now = rt.now()
        cutoff = Retention(7, "y").cutoff(now)
        ancient = cutoff - timedelta(days=400)
        if rt.engine.dialect.name == "postgresql":
            # A month of its own, to be dropped whole; the boundary month
            # stays in the default partition and goes row by row.
            with transaction(rt.engine, write=True) as conn:
                ensure_partitions(conn, ancient, back=0, ahead=0)
                ensure_partitions(
                    conn,
                    ancient,
                    back=0,
                    ahead=0,
                    tables={"message_parts": "message_created_at"},
                )
        gone = seed(rt, ancient, 5) + seed(rt, cutoff - timedelta(hours=1), 4)
        kept = seed(rt, cutoff + timedelta(hours=1), 3)
        recent = [m.message_id for m in send_to(rt, "acme", "+17036069997").messages]
        before = counts(rt)

        dry = purge(rt, "7y", dry_run=True)
        assert dry.rows["messages"] == 9 and dry.rows["status_history"] == 9
        assert dry.rows["batches"] == 2 and dry.rows["receipts"] == 2
        assert counts(rt) == before

        report = purge(rt, "7y", batch_size=2)
        assert message_ids(rt) == set(kept) | set(recent)
        after = counts(rt)
        # Three seeded batches' worth of each per-message row minus the two old.
        assert after["status_history"] == before["status_history"] - 9
        assert after["message_parts"] == before["message_parts"] - 9
        for table in ("batches", "callback_outbox", "receipts", "inbound_messages"):
            assert after[table] == before[table] - 2, table
        assert after["rate_events"] == before["rate_events"] - 2
        assert not set(gone) & message_ids(rt)
        if rt.engine.dialect.name == "postgresql":
            month = partition_name("messages", ancient.date().replace(day=1))
            assert month in report.dropped_partitions
            assert partition_name("status_history", ancient.date().replace(day=1)) in (
                report.dropped_partitions
            )
            with transaction(rt.engine) as conn:
                names = {n for _, n, _ in store_retention.month_partitions(conn)}
            assert month not in names
            # The months ahead exist for the partitioned tables.
            assert partition_name("messages", now.date().replace(day=1)) in names
        else:
            assert report.dropped_partitions == []

        # A second run finds nothing more.
        again = purge(rt, "7y")
        assert set(again.rows.values()) == {0} and again.dropped_partitions == []
