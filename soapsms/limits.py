"""Sliding-minute counters for the ingress listeners' own limits (in this process)."""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable, Hashable

WINDOW_SECONDS = 60.0
# Past this many keys, those with no recent event are dropped, so that many
# short connections cannot grow the table without bound.
_PRUNE_AT = 10_000


class SlidingWindow:
    """At most `limit` events per key in any 60 seconds; 0 means no limit."""

    def __init__(self, limit: int, clock: Callable[[], float] = time.monotonic) -> None:
        self.limit = limit
        self._clock = clock
        self._events: dict[Hashable, deque[float]] = {}
        # Deliveries run on executor threads.
        self._lock = threading.Lock()

    def allow(self, key: Hashable) -> bool:
        """Count one event for `key` unless that would pass the limit."""
        if not self.limit:
            return True
        now = self._clock()
        with self._lock:
            if len(self._events) > _PRUNE_AT:
                self._prune(now)
            times = self._events.setdefault(key, deque())
            while times and times[0] <= now - WINDOW_SECONDS:
                times.popleft()
            if len(times) >= self.limit:
                return False
            times.append(now)
            return True

    def _prune(self, now: float) -> None:
        stale = [
            key
            for key, times in self._events.items()
            if not times or times[-1] <= now - WINDOW_SECONDS
        ]
        for key in stale:
            del self._events[key]
