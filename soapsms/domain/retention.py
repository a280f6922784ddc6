"""Retention periods: `7y`, `24m`, `730d`, never under the legal minimum of 2 years."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta

from soapsms.errors import ValidationError

LEGAL_MINIMUM_YEARS = 2
_FORM = re.compile(r"\s*(\d{1,5})\s*([ymd])\s*", re.IGNORECASE)
# What the legal minimum is in each unit: 2 years, 24 months, 730 days.
_MINIMUM = {"y": LEGAL_MINIMUM_YEARS, "m": 12 * LEGAL_MINIMUM_YEARS, "d": 730}


@dataclass(frozen=True)
class Retention:
    """A retention period as given: an amount of years, months or days."""

    amount: int
    unit: str  # y, m or d

    def __str__(self) -> str:
        return f"{self.amount}{self.unit}"

    def cutoff(self, now: datetime) -> datetime:
        """The instant before which data is older than this period (calendar
        years and months, so 7y from 2033-03-01 is 2026-03-01)."""
        if self.unit == "d":
            try:
                return now - timedelta(days=self.amount)
            except OverflowError as exc:
                raise ValidationError(
                    f"retention {self} reaches back before year 1"
                ) from exc
        months = self.amount * (12 if self.unit == "y" else 1)
        index = now.year * 12 + (now.month - 1) - months
        year, month = divmod(index, 12)
        month += 1
        if year < 1:
            raise ValidationError(f"retention {self} reaches back before year 1")
        # The 29th to 31st of a month the target lacks: its last day.
        day = now.day
        while True:
            try:
                return now.replace(year=year, month=month, day=day)
            except ValueError:
                day -= 1


def parse_retention(text: str) -> Retention:
    """`7y`, `24m` or `730d`; refuses anything under the legal minimum."""
    match = _FORM.fullmatch(text or "")
    if match is None:
        raise ValidationError(
            f"retention {text!r} is not a duration such as 7y, 24m or 730d"
        )
    amount, unit = int(match.group(1)), match.group(2).lower()
    if amount < _MINIMUM[unit]:
        raise ValidationError(
            f"retention {text!r} is under the legal minimum of "
            f"{LEGAL_MINIMUM_YEARS} years (2y, 24m or 730d): message data must "
            "be kept at least that long"
        )
    return Retention(amount, unit)
