"""HOLDuntil's time: YYMMDDHHMM[SS] (or YYYYMMDDHHMMSS), then an optional GMT offset."""

from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone

# RFC 1861 4.5.6: twelve digits, seconds optional; a 4-digit year is a common
# extension. The offset is +/-HH or +/-HHMM, with or without a space before it.
_HOLD = re.compile(r"(\d{14}|\d{12}|\d{10})\s*(?:([+-])(\d{2})(\d{2})?)?")


def parse_hold(value: str) -> datetime:
    """The time as an aware datetime; without an offset it is the gateway's
    local time. ValueError when it is not such a time."""
    match = _HOLD.fullmatch(value.strip())
    if match is None:
        raise ValueError(f"not YYMMDDHHMMSS [+/-GMT offset]: {value!r}")
    digits, sign, hours, minutes = match.groups()
    if len(digits) == 14:
        year, rest = int(digits[:4]), digits[4:]
    else:
        # Two-digit years: 70-99 are the 1900s (past, so "now"), the rest 2000s.
        short = int(digits[:2])
        year, rest = (1900 if short >= 70 else 2000) + short, digits[2:]
    second = int(rest[8:10]) if len(rest) == 10 else 0
    naive = datetime(
        year, int(rest[0:2]), int(rest[2:4]), int(rest[4:6]), int(rest[6:8]), second
    )
    if sign is None:
        return naive.astimezone()
    offset = timedelta(hours=int(hours), minutes=int(minutes or 0))
    if offset >= timedelta(hours=24) or int(minutes or 0) >= 60:
        raise ValueError(f"GMT offset out of range: {value!r}")
    return naive.replace(tzinfo=timezone(-offset if sign == "-" else offset))
