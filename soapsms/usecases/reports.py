"""`soapsms report`: an account's messages in a date range as CSV or JSON,
one row per message or a summary by day; streamed page by page, so a
million-row report needs no more memory than a thousand-row one."""

from __future__ import annotations

import csv
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import IO, Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from soapsms.domain import status
from soapsms.domain.status_fields import REPORT_COLUMNS
from soapsms.errors import ValidationError
from soapsms.store import reports as q
from soapsms.store import repository
from soapsms.store.db import transaction
from soapsms.usecases.runtime import Runtime

PAGE = 2000

# A message's row: the status fields the declaration reports, and its credits.
FIELDS = tuple(name for name, _, _ in REPORT_COLUMNS)
_TIMES = tuple(name for name, _, kind in REPORT_COLUMNS if kind is datetime)
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
# A summary's period: how much of a local ISO timestamp names it.
PERIODS = {"day": len("2026-12-04"), "month": len("2026-12")}
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

        def utc(day: date, days: int = 0) -> datetime:
            try:
                local = datetime.combine(
                    day + timedelta(days=days), time.min, tzinfo=tz
                )
                return local.astimezone(UTC).replace(tzinfo=None)
            except OverflowError:  # year 1 or 9999: the range is open there
                return datetime.min if days == 0 else datetime.max

        return utc(self.since), utc(self.until, 1)


def messages(
    rt: Runtime,
    rng: ReportRange,
    page: int = PAGE,
    on_page: Callable[[int, float], None] | None = None,
) -> Iterator[dict[str, Any]]:
    """Each message of the range, oldest first; one short read transaction a
    page. `on_page(messages so far, share of the range's time read)` after each."""
    since, until = rng.bounds()
    seen = 0
    tz = rng.tz()
    after: tuple[datetime, str] | None = None
    while True:
        with transaction(rt.engine) as conn:
            rows = q.page(conn, rng.account_id, since, until, after, page)
        if not rows:
            return
        after = (rows[-1]["created_at"], rows[-1]["message_id"])
        for row in rows:
            for name in _TIMES:
                row[name] = _local(row[name], tz)
            yield row
        seen += len(rows)
        if on_page is not None:
            span = (until - since).total_seconds() or 1.0
            on_page(seen, (after[0] - since).total_seconds() / span)
        if len(rows) < page:
            return


def _local(value: datetime | None, tz: ZoneInfo) -> str | None:
    if value is None:
        return None
    moment = value.replace(tzinfo=UTC).astimezone(tz)
    return moment.isoformat(timespec="milliseconds")


def summary_fields(by: str) -> tuple[str, ...]:
    """A summary's columns: its period ("day" or "month"), then the counts."""
    if by not in PERIODS:
        raise ValidationError(f"a summary is by day or month, not {by!r}")
    return (by, *SUMMARY_FIELDS[1:])


def summary(
    rt: Runtime,
    rng: ReportRange,
    page: int = PAGE,
    on_page: Callable[[int, float], None] | None = None,
    by: str = "day",
) -> list[dict[str, Any]]:
    """One row per day or month (in the range's zone) that has messages;
    memory grows with the periods, not the messages."""
    summary_fields(by)  # refuses an unknown period
    width = PERIODS[by]
    days: dict[str, dict[str, int]] = {}
    for row in messages(rt, rng, page, on_page):
        key = row["created_at"][:width]
        day = days.get(key)
        if day is None:
            day = days[key] = dict.fromkeys(SUMMARY_FIELDS[1:], 0)
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
    return [{by: key, **days[key]} for key in sorted(days)]


def write(
    rt: Runtime,
    rng: ReportRange,
    out: IO[str],
    fmt: str,
    *,
    summarize: bool = False,
    by: str = "day",
    page: int = PAGE,
    on_page: Callable[[int, float], None] | None = None,
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
        fields = summary_fields(by)
        rows: Any = summary(rt, rng, page, on_page, by)
    else:
        rows = messages(rt, rng, page, on_page)
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
