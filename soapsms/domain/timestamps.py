"""Times as the contract sends them: UTC with a Z, to the millisecond at most."""

from __future__ import annotations

from datetime import UTC, datetime


def format_utc(value: datetime) -> str:
    """xs:dateTime text for `value` (naive means UTC already)."""
    if value.tzinfo is not None:
        value = value.astimezone(UTC)
    # isoformat, not strftime: cheaper, and large answers write thousands
    # (docs/performance.md). The slice drops the "+00:00" of an aware value.
    if value.microsecond < 1000:
        return value.isoformat(timespec="seconds")[:19] + "Z"
    return value.isoformat(timespec="milliseconds")[:23] + "Z"
