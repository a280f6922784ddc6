"""Stacked daily-volume bars as SVG geometry, drawn server-side (no chart script)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

WIDTH = 900
HEIGHT = 240
LEFT = 48  # room for the axis figures
BOTTOM = 28  # room for the day labels
TOP = 10
RIGHT = 16  # room for the last label
MAX_BAR = 48
SERIES = ("delivered", "failed", "cancelled", "pending")


@dataclass(frozen=True)
class Bar:
    x: float
    y: float
    width: float
    height: float
    series: str
    title: str


@dataclass(frozen=True)
class Tick:
    x: float
    y: float
    text: str


@dataclass(frozen=True)
class Chart:
    width: int
    height: int
    bars: list[Bar]
    x_labels: list[Tick]
    y_labels: list[Tick]
    grid: list[float]
    description: str


def _step(top: int) -> int:
    """A grid step of 1, 2, 2.5 or 5 times a power of ten (whole numbers),
    so that four steps reach `top`."""
    scale = 1
    while True:
        for factor in (1.0, 2.0, 2.5, 5.0):
            step = factor * scale
            if step.is_integer() and 4 * step >= top:
                return int(step)
        scale *= 10


def stacked(columns: Sequence[tuple[str, Mapping[str, int]]]) -> Chart:
    """One stacked bar per (label, {series: count}) column, oldest on the left."""
    totals = [sum(values.get(s, 0) for s in SERIES) for _, values in columns]
    top = 4 * _step(max(totals, default=0))
    plot_h = HEIGHT - TOP - BOTTOM
    slot = (WIDTH - LEFT - RIGHT) / max(len(columns), 1)
    bars: list[Bar] = []
    x_labels: list[Tick] = []
    every = max(1, len(columns) // 10)
    for i, (label, values) in enumerate(columns):
        width = min(slot * 0.7, MAX_BAR)
        x = LEFT + i * slot + (slot - width) / 2
        base = float(HEIGHT - BOTTOM)
        for series in SERIES:
            count = values.get(series, 0)
            if not count:
                continue
            h = plot_h * count / top
            base -= h
            bars.append(Bar(x, base, width, h, series, f"{label}: {count:,} {series}"))
        if i % every == 0 or i == len(columns) - 1:
            # A day as MM-DD, a month as YYYY-MM.
            short = label[-5:] if len(label) > 7 else label
            x_labels.append(Tick(x + width / 2, HEIGHT - 10, short))
    y_labels = []
    grid = []
    for k in range(5):
        y = HEIGHT - BOTTOM - plot_h * k / 4
        grid.append(y)
        y_labels.append(Tick(LEFT - 6, y + 4, f"{top * k // 4:,}"))
    first, last = (columns[0][0], columns[-1][0]) if columns else ("", "")
    description = (
        f"Messages per day from {first} to {last} by final status; "
        f"the busiest day had {max(totals, default=0):,}."
    )
    return Chart(WIDTH, HEIGHT, bars, x_labels, y_labels, grid, description)
