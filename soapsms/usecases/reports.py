"""`soapsms report`: an account's messages in a date range as CSV or JSON,
one row per message or a summary by day; streamed page by page, so a
million-row report needs no more memory than a thousand-row one."""

from __future__ import annotations

import csv
import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import IO, Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from soapsms.domain import status
from soapsms.errors import ValidationError
from soapsms.store import reports as q
from soapsms.store import repository
from soapsms.store.db import transaction
from soapsms.usecases.runtime import Runtime

PAGE = 2000

FIELDS = (
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
SUMMARY_FIELDS = (
    "day",
    "sent",
    "delivered",
    "failed",
    "cancelled",
    "pending",
    "parts",
    "parts_delivered",
    "credits",
)
# Ended without reaching the handset; CANCELLED is counted on its own.
FAILED = frozenset({status.UNDELIVERED, status.EXPIRED, status.REJECTED, status.FAILED})


@dataclass(frozen=True)
class ReportRange:
    """Whole days `since`..`until` (both included) in `zone`, as UTC instants."""

    account_id: str
    since: date
    until: date
    zone: str = "UTC"

    def tz(self) -> ZoneInfo:
        try:
            return ZoneInfo(self.zone)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValidationError(f"unknown time zone {self.zone!r}") from exc

    def bounds(self) -> tuple[datetime, datetime]:
        if self.until < self.since:
            raise ValidationError("--until is before --since")
        tz = self.tz()

        def utc(day: date) -> datetime:
            local = datetime.combine(day, time.min, tzinfo=tz)
            return local.astimezone(UTC).replace(tzinfo=None)

        return utc(self.since), utc(self.until + timedelta(days=1))


def messages(
    rt: Runtime, rng: ReportRange, page: int = PAGE
) -> Iterator[dict[str, Any]]:
    """Each message of the range, oldest first; one short read transaction a page."""
    since, until = rng.bounds()
    tz = rng.tz()
    after: tuple[datetime, str] | None = None
    while True:
        with transaction(rt.engine) as conn:
            rows = q.page(conn, rng.account_id, since, until, after, page)
        for row in rows:
            yield {
                "message_id": row.message_id,
                "batch_id": row.batch_id,
                "client_reference": row.client_reference,
                "recipient": row.recipient,
                "sender": row.sender,
                "status": row.status,
                "error_code": row.error_code,
                "parts": row.parts,
                "parts_delivered": row.parts_delivered,
                "credits": row.charged,
                "created_at": _local(row.created_at, tz),
                "submitted_at": _local(row.submitted_at, tz),
                "done_at": _local(row.done_at, tz),
            }
        if len(rows) < page:
            return
        after = (rows[-1].created_at, rows[-1].message_id)


def _local(value: datetime | None, tz: ZoneInfo) -> str | None:
    if value is None:
        return None
    moment = value.replace(tzinfo=UTC).astimezone(tz)
    return moment.isoformat(timespec="milliseconds")


def summary(rt: Runtime, rng: ReportRange, page: int = PAGE) -> list[dict[str, Any]]:
    """One row per day (in the range's zone) that has messages; memory grows
    with the days, not the messages."""
    days: dict[str, dict[str, int]] = {}
    for row in messages(rt, rng, page):
        day = days.get(row["created_at"][:10])
        if day is None:
            day = days[row["created_at"][:10]] = dict.fromkeys(SUMMARY_FIELDS[1:], 0)
        day["sent"] += 1
        state = row["status"]
        if state == status.DELIVERED:
            day["delivered"] += 1
        elif state in FAILED:
            day["failed"] += 1
        elif state == status.CANCELLED:
            day["cancelled"] += 1
        else:
            day["pending"] += 1
        day["parts"] += row["parts"]
        day["parts_delivered"] += row["parts_delivered"]
        day["credits"] += row["credits"]
    return [{"day": key, **days[key]} for key in sorted(days)]


def write(
    rt: Runtime,
    rng: ReportRange,
    out: IO[str],
    fmt: str,
    *,
    summarize: bool = False,
    page: int = PAGE,
) -> int:
    """Write the report as csv or json to `out`; the number of rows written."""
    if fmt not in ("csv", "json"):
        raise ValidationError(f"format must be csv or json, not {fmt!r}")
    with transaction(rt.engine) as conn:
        if repository.get_account(conn, rng.account_id) is None:
            raise ValidationError(f"no account {rng.account_id!r}")
    rng.bounds()  # refuses a bad zone or range before anything is written
    fields: tuple[str, ...]
    if summarize:
        rows: Any = summary(rt, rng, page)
        fields = SUMMARY_FIELDS
    else:
        rows = messages(rt, rng, page)
        fields = FIELDS
    count = 0
    if fmt == "csv":
        writer = csv.DictWriter(out, fieldnames=fields, lineterminator="\n")
        writer.writeheader()
        for row in rows:
            writer.writerow(row)
            count += 1
        return count
    # A JSON array written element by element: never held whole in memory.
    out.write("[")
    for row in rows:
        out.write(("\n" if count == 0 else ",\n") + json.dumps(row, ensure_ascii=False))
        count += 1
    out.write("\n]\n" if count else "]\n")
    return count
