"""Time-ordered message and batch ids (ULIDs) and the time inside them."""

from __future__ import annotations

import re
import secrets
import time
from datetime import UTC, datetime, timedelta

_CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
# Every 10-bit group as its two characters: eight lookups spell 80 random bits.
_PAIRS = tuple(high + low for high in _CROCKFORD for low in _CROCKFORD)
_WELL_FORMED = re.compile(r"[0-7][0-9A-HJKMNP-TV-Za-hjkmnp-tv-z]{25}")
# Crockford digits, either case, onto the digits int(..., 32) reads.
_TO_BASE32 = bytes.maketrans(
    (_CROCKFORD + _CROCKFORD.lower()).encode("ascii"),
    b"0123456789abcdefghijklmnopqrstuv" * 2,
)

_EPOCH = datetime(1970, 1, 1)
_MILLISECOND = timedelta(milliseconds=1)
_TIME_LIMIT = 1 << 48
_RANDOM_LIMIT = 1 << 80
# ULID times run to the year 10889; datetime stops at 9999.
_LAST_MS = (datetime.max - _EPOCH) // _MILLISECOND
_TEN_BITS = 0x3FF


def new_ids(count: int, at: datetime | None = None) -> tuple[datetime, list[str]]:
    """`count` new ids sharing one millisecond, strictly increasing, and that instant.

    The instant is `at` (naive means UTC) or now, truncated to the millisecond
    and returned as a naive UTC datetime, exactly the time `id_time` reads back.
    The random part starts at a random 80-bit value low enough for `count`
    increments, so sorting the ids keeps the order they were made in.
    """
    if count < 0:
        raise ValueError(f"count must not be negative, not {count}")
    ms = _milliseconds(at)
    prefix = "".join(_CROCKFORD[(ms >> shift) & 0x1F] for shift in range(45, -5, -5))
    start = secrets.randbelow(_RANDOM_LIMIT - count + 1)
    pairs = _PAIRS
    ids = [
        prefix
        + pairs[value >> 70]
        + pairs[(value >> 60) & _TEN_BITS]
        + pairs[(value >> 50) & _TEN_BITS]
        + pairs[(value >> 40) & _TEN_BITS]
        + pairs[(value >> 30) & _TEN_BITS]
        + pairs[(value >> 20) & _TEN_BITS]
        + pairs[(value >> 10) & _TEN_BITS]
        + pairs[value & _TEN_BITS]
        for value in range(start, start + count)
    ]
    return _EPOCH + ms * _MILLISECOND, ids


def new_id(at: datetime | None = None) -> str:
    """One new id; see new_ids."""
    return new_ids(1, at)[1][0]


def id_time(value: str) -> datetime | None:
    """The naive UTC instant (to the millisecond) in an id, or None if not a ULID.

    Accepts either case; refuses other lengths, characters outside Crockford's
    base 32 (no I, L, O, U), values above 128 bits, and times past year 9999.
    """
    if _WELL_FORMED.fullmatch(value) is None:
        return None
    ms = int(value[:10].encode("ascii").translate(_TO_BASE32), 32)
    if ms > _LAST_MS:
        return None
    return _EPOCH + ms * _MILLISECOND


def _milliseconds(at: datetime | None) -> int:
    if at is None:
        return time.time_ns() // 1_000_000
    if at.utcoffset() is not None:
        at = at.astimezone(UTC).replace(tzinfo=None)
    ms = (at.replace(tzinfo=None) - _EPOCH) // _MILLISECOND
    if not 0 <= ms < _TIME_LIMIT:
        raise ValueError(f"{at.isoformat()} is outside the range of ULID times")
    return ms
