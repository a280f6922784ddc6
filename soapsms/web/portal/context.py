"""What the portal's views share: the signed-in account and reading form fields."""

from __future__ import annotations

from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

from flask import g, request

from soapsms.errors import ValidationError
from soapsms.usecases.results import AccountView
from soapsms.web.context import runtime as runtime


def account() -> AccountView:
    found: AccountView = g.account
    return found


def field(name: str, source: str = "form") -> str | None:
    """A form or query field, stripped; None when absent or blank."""
    values = request.form if source == "form" else request.args
    value = (values.get(name) or "").strip()
    return value or None


def day(name: str, label: str, source: str = "args") -> date | None:
    value = field(name, source)
    if value is None:
        return None
    try:
        parsed = date.fromisoformat(value)
    except ValueError as exc:
        raise ValidationError(f"{label}: {value!r} is not a date (YYYY-MM-DD)") from exc
    # The pages add a day to a range's end and shift it by a zone.
    if not date.min < parsed < date.max:
        raise ValidationError(f"{label}: {value!r} is out of range")
    return parsed


def moment(name: str, label: str, zone: str = "UTC") -> datetime | None:
    """A datetime-local field in `zone`, as an aware datetime."""
    value = field(name)
    if value is None:
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError as exc:
        raise ValidationError(
            f"{label}: {value!r} is not a date and time (YYYY-MM-DD HH:MM)"
        ) from exc
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=ZoneInfo(zone) if zone != "UTC" else UTC)
    return parsed


def number(name: str, label: str, lowest: int, highest: int) -> int | None:
    value = field(name)
    if value is None:
        return None
    try:
        parsed = int(value)
    except ValueError as exc:
        raise ValidationError(f"{label}: {value!r} is not a whole number") from exc
    if not lowest <= parsed <= highest:
        raise ValidationError(f"{label} must be {lowest} to {highest}")
    return parsed
