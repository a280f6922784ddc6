"""Times as the contract sends them: UTC with a Z, to the millisecond at most."""

from __future__ import annotations

from datetime import UTC, datetime


def format_utc(value: datetime) -> str:
    """xs:dateTime text for `value` (naive means UTC already)."""
    if value.tzinfo is not None:
        value = value.astimezone(UTC).replace(tzinfo=None)
    text = value.strftime("%Y-%m-%dT%H:%M:%S")
    millis = value.microsecond // 1000
    return f"{text}.{millis:03d}Z" if millis else f"{text}Z"
