"""Progress of long commands (purge, report) on a terminal: rows, rate, ETA."""

from __future__ import annotations

import sys
import time
from typing import TextIO


class Progress:
    """One status line on `stream`, rewritten at most twice a second, and only
    when `stream` is a terminal: pipes and log files stay clean."""

    def __init__(
        self, label: str, stream: TextIO | None = None, interval: float = 0.5
    ) -> None:
        self.label = label
        self.stream = stream if stream is not None else sys.stderr
        self.enabled = self.stream.isatty()
        self.interval = interval
        self._start = time.monotonic()
        self._last = 0.0
        self._shown = False

    def update(self, done: int, fraction: float | None = None) -> None:
        """`done` rows so far; `fraction` of the whole work done (0..1), if known."""
        now = time.monotonic()
        if not self.enabled or now - self._last < self.interval:
            return
        self._last = now
        elapsed = max(now - self._start, 1e-6)
        line = f"{self.label}: {done:,} rows, {done / elapsed:,.0f}/s"
        if fraction is not None and fraction > 0:
            fraction = min(fraction, 1.0)
            left = elapsed * (1 - fraction) / fraction
            line += f", {fraction:.0%}, ETA {_clock(left)}"
        self.stream.write("\r" + line + "\033[K")
        self.stream.flush()
        self._shown = True

    def finish(self) -> None:
        """End the status line (the command's own output follows)."""
        if self._shown:
            self.stream.write("\r\033[K")
            self.stream.flush()
            self._shown = False


def _clock(seconds: float) -> str:
    whole = int(seconds + 0.5)
    return f"{whole // 3600}:{whole % 3600 // 60:02d}:{whole % 60:02d}"
