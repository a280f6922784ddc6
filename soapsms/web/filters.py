"""Jinja filters the pages share: times, numbers, rates."""

from __future__ import annotations

from datetime import datetime, timedelta

from flask import Flask

from soapsms.usecases.portal import outcome


def when(value: datetime | None, zone: bool = True) -> str:
    """Naive UTC as the pages show it (the contract's times are UTC)."""
    if value is None:
        return "—"
    return value.strftime("%Y-%m-%d %H:%M:%S") + (" UTC" if zone else "")


def duration(value: timedelta | float | None) -> str:
    if value is None:
        return "—"
    seconds = value.total_seconds() if isinstance(value, timedelta) else value
    if seconds < 60:
        return f"{seconds:.1f} s"
    if seconds < 3600:
        return f"{seconds / 60:.1f} min"
    return f"{seconds / 3600:.1f} h"


def percent(value: float | None) -> str:
    return "—" if value is None else f"{value * 100:.1f} %"


def number(value: int | None) -> str:
    return "unlimited" if value is None else f"{value:,}"


def label(name: str) -> str:
    """A dataclass field's name as a heading: `parts_delivered` -> `Parts delivered`."""
    return name.replace("_", " ").capitalize()


def install(app: Flask) -> None:
    app.jinja_env.filters.update(
        when=when,
        duration=duration,
        percent=percent,
        number=number,
        label=label,
        outcome=outcome,
    )
