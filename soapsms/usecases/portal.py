"""What the customer portal reads and changes beyond SOAP's use cases: login
and session checks, the dashboard's figures, a message's and a batch's
pages, inbound messages, password and callback-secret changes."""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from soapsms.domain import status
from soapsms.domain.ids import id_time
from soapsms.errors import AccessDenied, ValidationError
from soapsms.store import portal as q
from soapsms.store import repository
from soapsms.store.db import transaction
from soapsms.usecases import accounts
from soapsms.usecases.auth import _allowed, account_view, authenticate
from soapsms.usecases.query import get_status
from soapsms.usecases.reports import FAILED, SUMMARY_FIELDS, ReportRange, summary
from soapsms.usecases.requests import Credentials, Selector
from soapsms.usecases.results import AccountView, MessageStatus, RejectedRecipient
from soapsms.usecases.runtime import Runtime

WINDOWS = ((1, "Today"), (7, "7 days"), (30, "30 days"))
# Delivery times are taken from at most this many of the newest deliveries
# of a window, so the dashboard costs the same on a store of any size.
TIMING_SAMPLE = 10_000
INBOUND_PAGE = 100
OUTCOMES = ("delivered", "failed", "cancelled", "pending")


def _stamp(rt: Runtime, password_hash: str) -> str:
    """What a session holds of the password it was opened with: a keyed hash
    of its hash, so a new password ends every session and the cookie tells nothing."""
    return hmac.digest(rt.secret(), password_hash.encode(), hashlib.sha256)[:12].hex()


def login(
    rt: Runtime, account_id: str, password: str, client_ip: str
) -> tuple[AccountView, str]:
    """SOAP's login (the same argon2 check, throttle and network rules); the
    account and its session stamp."""
    view = authenticate(
        rt, [Credentials(account_id.strip(), password, "web")], client_ip
    )
    return view, session_stamp(rt, view)


def session_stamp(rt: Runtime, account: AccountView) -> str:
    with transaction(rt.engine) as conn:
        row = repository.get_account(conn, account.account_id)
    return _stamp(rt, row.password_hash if row is not None else "")


def session_account(
    rt: Runtime, account_id: str, stamp: str, client_ip: str
) -> AccountView | None:
    """The account a session names, while its password is the one the session
    was opened with, it is enabled and used from an allowed network (both
    checked at every request)."""
    with transaction(rt.engine) as conn:
        row = repository.get_account(conn, account_id)
    if row is None or not hmac.compare_digest(_stamp(rt, row.password_hash), stamp):
        return None
    try:
        return _allowed(account_view(row), client_ip)
    except AccessDenied:  # disabled, or not from an allowed network
        return None


# --- dashboard ----------------------------------------------------------------


def outcome(state: str) -> str:
    """A status as the dashboard and reports group it."""
    if state == status.DELIVERED:
        return "delivered"
    if state in FAILED:
        return "failed"
    if state == status.CANCELLED:
        return "cancelled"
    return "pending"


@dataclass(frozen=True)
class WindowFigures:
    label: str
    days: int
    sent: int = 0
    delivered: int = 0
    failed: int = 0
    cancelled: int = 0
    pending: int = 0
    median: timedelta | None = None
    p95: timedelta | None = None
    timed: int = 0  # deliveries the times were taken from

    @property
    def delivery_rate(self) -> float | None:
        """Delivered among the messages that ended (cancelled ones aside)."""
        ended = self.delivered + self.failed
        return self.delivered / ended if ended else None


@dataclass(frozen=True)
class DayVolume:
    day: str
    delivered: int = 0
    failed: int = 0
    cancelled: int = 0
    pending: int = 0

    @property
    def total(self) -> int:
        return self.delivered + self.failed + self.cancelled + self.pending


@dataclass(frozen=True)
class Dashboard:
    windows: list[WindowFigures]
    days: list[DayVolume]
    credits: int | None
    as_of: datetime


def _percentile(sorted_values: list[timedelta], share: float) -> timedelta | None:
    """Nearest-rank percentile of already sorted values."""
    if not sorted_values:
        return None
    rank = max(1, int(-(-share * len(sorted_values) // 1)))
    return sorted_values[rank - 1]


def dashboard(rt: Runtime, account: AccountView) -> Dashboard:
    now = rt.now()
    today = now.replace(hour=0, minute=0, second=0, microsecond=0)
    first = today - timedelta(days=WINDOWS[-1][0] - 1)
    with transaction(rt.engine) as conn:
        counts = q.daily_counts(conn, account.account_id, first)
        # The newest deliveries of 30 days hold the newest of each shorter
        # period too: one read serves the three.
        newest = q.delivery_seconds(conn, account.account_id, first, TIMING_SAMPLE)
        row = repository.get_account(conn, account.account_id)
    per_day: dict[str, dict[str, int]] = {}
    for day, state, n in counts:
        bucket = per_day.setdefault(day, dict.fromkeys(OUTCOMES, 0))
        bucket[outcome(state)] += n
    days = [
        DayVolume(key, **per_day.get(key, {}))
        for key in (
            (first + timedelta(days=i)).strftime("%Y-%m-%d")
            for i in range(WINDOWS[-1][0])
        )
    ]
    windows = []
    for span, label in WINDOWS:
        recent = days[-span:]
        start = (today - timedelta(days=span - 1)).strftime("%Y-%m-%d")
        durations = sorted(
            timedelta(seconds=seconds) for day, seconds in newest if day >= start
        )
        windows.append(
            WindowFigures(
                label=label,
                days=span,
                sent=sum(d.total for d in recent),
                delivered=sum(d.delivered for d in recent),
                failed=sum(d.failed for d in recent),
                cancelled=sum(d.cancelled for d in recent),
                pending=sum(d.pending for d in recent),
                median=_percentile(durations, 0.5),
                p95=_percentile(durations, 0.95),
                timed=len(durations),
            )
        )
    return Dashboard(
        windows=windows,
        days=days,
        credits=row.credits if row is not None else account.credits,
        as_of=now,
    )


# --- a message, a batch ---------------------------------------------------------


@dataclass(frozen=True)
class MessageDetail:
    status: MessageStatus
    text: str
    history: list[dict[str, Any]]
    parts: list[dict[str, Any]]
    receipts: list[dict[str, Any]]

    @property
    def cancellable(self) -> bool:
        return self.status.status in status.CANCELLABLE


def message_detail(
    rt: Runtime, account: AccountView, message_id: str
) -> MessageDetail | None:
    """The account's message with its history, parts and receipts; None when
    the id is not one of the account's messages."""
    if id_time(message_id) is None:
        return None
    found = get_status(rt, account, Selector(message_ids=(message_id,)))
    if not found or found[0].status == status.UNKNOWN:
        return None
    message = found[0]
    assert message.created_at is not None
    key = (message.message_id, message.created_at)
    with transaction(rt.engine) as conn:
        text = q.text_of(conn, account.account_id, *key)
        return MessageDetail(
            status=message,
            text=text or "",
            history=q.history_of(conn, *key),
            parts=q.parts_of(conn, *key),
            receipts=q.receipts_of(conn, *key),
        )


@dataclass(frozen=True)
class BatchView:
    batch_id: str
    client_reference: str | None
    created_at: datetime
    messages: list[MessageStatus]
    rejected: list[RejectedRecipient] = field(default_factory=list)


def batch(rt: Runtime, account: AccountView, batch_id: str) -> BatchView | None:
    """The account's batch with its messages and rejections, or None."""
    wanted = batch_id.strip().upper()
    if id_time(wanted) is None:
        return None
    with transaction(rt.engine) as conn:
        row = repository.get_batch(conn, account.account_id, wanted)
    if row is None:
        return None
    return BatchView(
        batch_id=row.batch_id,
        client_reference=row.client_reference,
        created_at=row.created_at,
        messages=get_status(rt, account, Selector(batch_id=row.batch_id)),
        rejected=[RejectedRecipient(r, why) for r, why in json.loads(row.rejected)],
    )


def batch_of_reference(rt: Runtime, account: AccountView, reference: str) -> str | None:
    """The batch a ClientReference names (unique per account), or None."""
    with transaction(rt.engine) as conn:
        row = repository.find_batch_by_reference(conn, account.account_id, reference)
    return row.batch_id if row is not None else None


# --- inbound --------------------------------------------------------------------


@dataclass(frozen=True)
class InboundPage:
    numbers: tuple[str, ...]
    messages: list[dict[str, Any]]
    next_before: int | None


def account_numbers(account: AccountView) -> tuple[str, ...]:
    """The account's numeric senders (default and allowed), the numbers its
    replies come to, each with and without a leading +."""
    found: list[str] = []
    for sender in (account.default_sender, *account.allowed_senders):
        digits = (sender or "").lstrip("+")
        if digits.isdigit():
            found += [digits, "+" + digits]
    return tuple(dict.fromkeys(found))


def inbound(
    rt: Runtime, account: AccountView, before: int | None = None
) -> InboundPage:
    numbers = account_numbers(account)
    if not numbers:
        return InboundPage(numbers, [], None)
    with transaction(rt.engine) as conn:
        rows = q.inbound_to(conn, numbers, before, INBOUND_PAGE + 1)
    more = len(rows) > INBOUND_PAGE
    rows = rows[:INBOUND_PAGE]
    return InboundPage(numbers, rows, rows[-1]["id"] if more else None)


# --- settings -------------------------------------------------------------------


def change_password(
    rt: Runtime,
    account: AccountView,
    current: str,
    new: str,
    repeated: str,
    client_ip: str,
) -> AccountView:
    """A new password, once the current one is confirmed (throttled like a login)."""
    if new != repeated:
        raise ValidationError("the new password and its repetition differ")
    if new == current:
        raise ValidationError("the new password is the current one")
    login(rt, account.account_id, current, client_ip)
    return accounts.set_password(rt, account.account_id, new)


def regenerate_callback_secret(rt: Runtime, account: AccountView) -> AccountView:
    return accounts.set_fields(
        rt, account.account_id, callback_secret=secrets.token_urlsafe(32)
    )


def callback_secret(rt: Runtime, account: AccountView) -> str | None:
    return accounts.callback_secret(rt, account.account_id)


# --- reports --------------------------------------------------------------------


def report_summary(rt: Runtime, rng: ReportRange, by: str) -> list[dict[str, Any]]:
    """`soapsms report --summary`'s rows by day, or those summed by month
    (the `day` column then holds YYYY-MM)."""
    if by not in ("day", "month"):
        raise ValidationError(f"a report is by day or month, not {by!r}")
    days = daily_summary(rt, rng)
    if by == "day":
        return days
    months: dict[str, dict[str, Any]] = {}
    for row in days:
        key = row["day"][:7]
        month = months.setdefault(key, dict.fromkeys(row, 0))
        month["day"] = key
        for name, value in row.items():
            if name != "day":
                month[name] += value
    return list(months.values())


def daily_summary(rt: Runtime, rng: ReportRange) -> list[dict[str, Any]]:
    """reports.summary's rows, counted by the store per UTC hour and folded
    into the zone's days: the same figures without reading every message.
    A zone whose offset is not whole hours in the range is left to
    reports.summary itself."""
    since, until = rng.bounds()
    tz = rng.tz()
    with transaction(rt.engine) as conn:
        hours = q.hourly_summary(conn, rng.account_id, since, until)
    days: dict[str, dict[str, int]] = {}
    for hour, state, count, parts, delivered, credits in hours:
        local = hour.replace(tzinfo=UTC).astimezone(tz)
        offset = local.utcoffset()
        if offset is None or offset.total_seconds() % 3600:
            return summary(rt, rng)
        day = days.setdefault(
            local.date().isoformat(), dict.fromkeys(SUMMARY_FIELDS[1:], 0)
        )
        day["sent"] += count
        day[outcome(state)] += count
        day["parts"] += parts
        day["parts_delivered"] += delivered
        day["credits"] += credits
    return [{"day": key, **days[key]} for key in sorted(days)]
