"""Each connector's state, published by the dispatcher into the store every
few seconds, and the operators' pauses read back (soapsms.usecases.carriers).

The dispatcher (its connector_pool) asks `paused(name)` before handing a
connector a message and `any_sending()` before claiming: a paused one takes no
new submission (the route's next connector does, or the message waits
QUEUED), keeps its bind, and its receipts are recorded as ever. A pause
takes effect at the next publish, within `PUBLISH_EVERY` seconds.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from concurrent.futures import Future
from dataclasses import dataclass, field
from datetime import datetime

from soapsms import metrics
from soapsms.errors import Unavailable
from soapsms.usecases import carriers
from soapsms.usecases.runtime import Runtime

from .connectors.base import Connector, SubmitResult

logger = logging.getLogger(__name__)

PUBLISH_EVERY = 2.0  # seconds between publishes (and looks at the pauses)
_MINUTE = 60.0


@dataclass
class _Track:
    """What this dispatcher saw of one connector."""

    bound: bool
    since: datetime
    in_flight: int = 0
    submits: int = 0  # answers received, ever
    last_error: str | None = None
    last_error_at: datetime | None = None
    # (monotonic time, submits, receipts) samples over the last minute
    samples: deque[tuple[float, int, int]] = field(default_factory=deque)


def _window(connector: Connector) -> int | None:
    """The connector's configured window, where it has one."""
    for holder in ("config", "options"):
        window = getattr(getattr(connector, holder, None), "window", None)
        if isinstance(window, int):
            return window
    return None


def _error(result: SubmitResult) -> str:
    detail = result.carrier_error or result.error_text or ""
    return f"{result.error_code or 'ERROR'} {detail}".strip()


class ConnectorStates:
    """The dispatcher's view of its connectors, kept and published."""

    def __init__(
        self,
        rt: Runtime,
        dispatcher_id: str,
        connectors: dict[str, Connector],
        every: float = PUBLISH_EVERY,
    ) -> None:
        self.rt = rt
        self.dispatcher_id = dispatcher_id
        self.connectors = connectors
        self.every = every
        now = rt.now()
        self._tracks = {name: _Track(False, now) for name in connectors}
        self._paused: frozenset[str] = frozenset()
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._failing = False

    # --- asked by the dispatcher ------------------------------------------------

    def paused(self, name: str) -> bool:
        return name in self._paused

    def any_sending(self) -> bool:
        """Some connector is up and not paused: worth claiming messages."""
        return any(
            c.is_up() and name not in self._paused
            for name, c in self.connectors.items()
        )

    def handed(self, name: str, future: Future[SubmitResult]) -> None:
        """A submission handed to `name`; its answer is counted when it comes."""
        track = self._tracks.get(name)
        if track is None:
            return
        with self._lock:
            track.in_flight += 1
        future.add_done_callback(lambda done: self._answered(track, done))

    def _answered(self, track: _Track, future: Future[SubmitResult]) -> None:
        try:
            result = future.result()
            error = None if result.accepted else _error(result)
        except Exception as exc:  # noqa: BLE001 - the worker records it too
            error = f"{type(exc).__name__}: {exc}"
        with self._lock:
            track.in_flight -= 1
            track.submits += 1
            if error is not None:
                track.last_error, track.last_error_at = error, self.rt.now()

    # --- publishing ---------------------------------------------------------------

    def start(self) -> None:
        self.publish()
        self._thread = threading.Thread(
            target=self._loop, name="dispatch-connector-state", daemon=True
        )
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)
        try:
            carriers.withdraw(self.rt, self.dispatcher_id)
        except Unavailable:
            logger.warning("could not withdraw connector states; they go stale")

    def _loop(self) -> None:
        while not self._stop.wait(self.every):
            try:
                self.publish()
            except Exception:  # the dispatcher goes on; the next try may work
                logger.exception("publishing connector states failed")

    def _receipts(self) -> dict[str, int]:
        """Receipts received so far, by connector (the dispatcher's counter)."""
        counted: dict[str, int] = {}
        for family in metrics.get().receipts.collect():
            for sample in family.samples:
                if sample.name.endswith("_total"):
                    name = sample.labels.get("connector", "")
                    counted[name] = counted.get(name, 0) + int(sample.value)
        return counted

    def snapshot(self) -> list[carriers.Published]:
        """Every connector's state now; the per-minute figures over the last minute."""
        now, clock = self.rt.now(), time.monotonic()
        receipts = self._receipts()
        published = []
        with self._lock:
            for name, connector in self.connectors.items():
                track = self._tracks[name]
                bound = bool(connector.is_up())
                if bound != track.bound:
                    track.bound, track.since = bound, now
                track.samples.append((clock, track.submits, receipts.get(name, 0)))
                while track.samples[0][0] < clock - _MINUTE:
                    track.samples.popleft()
                first = track.samples[0]
                published.append(
                    carriers.Published(
                        connector=name,
                        bound=bound,
                        since=track.since,
                        in_flight=max(track.in_flight, 0),
                        window=_window(connector),
                        submits_per_minute=track.submits - first[1],
                        receipts_per_minute=receipts.get(name, 0) - first[2],
                        last_error=track.last_error,
                        last_error_at=track.last_error_at,
                    )
                )
        return published

    def publish(self) -> None:
        """Write the states, read the pauses; a store failure keeps the last."""
        try:
            paused = carriers.publish(self.rt, self.dispatcher_id, self.snapshot())
        except Unavailable as exc:
            if not self._failing:
                logger.warning("cannot publish connector states: %s", exc)
            self._failing = True
            return
        self._failing = False
        for name in sorted(paused ^ self._paused):
            if name in self.connectors:
                verb = "paused" if name in paused else "resumed"
                logger.warning("connector %s %s by an operator", name, verb)
        self._paused = paused
