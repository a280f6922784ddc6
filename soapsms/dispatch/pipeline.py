"""What the dispatcher's threads share: their work queues, the messages in
flight, the signals that stop them, and the store-write retry they all use."""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

from soapsms.errors import Unavailable
from soapsms.usecases.dispatching import queue as uc
from soapsms.usecases.dispatching.receipts import InboundIn, ReceiptIn

from .connectors.base import Ack
from .policy import Tried

T = TypeVar("T")

BATCH = 500  # outcomes or receipts recorded in one transaction at most
IDLE = 0.2  # seconds between looks at the store when nothing is due
STORE_RETRY = 1.0  # seconds before trying a failed store write again
LINGER = 0.03  # seconds a recording thread waits to fill its batch


@dataclass(frozen=True)
class Recorded:
    """Carrier ids whose submissions were just recorded, by connector."""

    carrier_ids: dict[str, list[str]]


@dataclass(frozen=True)
class Delivered:
    """A receipt or inbound message, with its answer to the carrier."""

    item: ReceiptIn | InboundIn
    ack: Ack | None


Reported = Delivered | Recorded


@dataclass
class Attempt:
    """A claimed message on its way through the route's connectors."""

    job: uc.Claimed
    index: int = 0  # the next connector of the route to try
    tried: Tried = field(default_factory=Tried)
    handed_at: float = 0.0  # monotonic time of the last hand-over, for latency


class Pipeline:
    """The queues between the threads and what is in flight between them.

    claim → to_send → (connectors) → outcomes → recorded; connectors' receipts
    and the recorder's notes → reported.
    """

    def __init__(self) -> None:
        self.to_send: queue.Queue[Attempt] = queue.Queue()
        self.outcomes: queue.Queue[uc.Outcome] = queue.Queue()
        self.reported: queue.Queue[Reported] = queue.Queue()
        self.wake = threading.Event()  # the claim loop looks again now
        # The claim loop waits for room (in flight at its cap): a settle wakes
        # it. Otherwise it claims on its own clock, not once per record: at a
        # low rate that was a claim transaction for every message or two.
        self.wants_room = threading.Event()
        self.stopping = threading.Event()  # stop() was called: claim no more
        self.done = threading.Event()  # the claim loop finished handing over
        self.receipts_idle = threading.Event()  # nothing queued, held or recording
        self.quiet = threading.Event()  # connectors stopped: nothing more arrives
        self.give_up = threading.Event()  # the drain is over: store writes stop
        self._lock = threading.Lock()
        self._in_flight: dict[tuple[str, Any], uc.Claimed] = {}
        # (connector, carrier id) accepted by a carrier, not yet recorded
        self._unrecorded: set[tuple[str, str]] = set()

    def in_flight(self) -> int:
        with self._lock:
            return len(self._in_flight)

    def leased(self) -> list[tuple[str, Any]]:
        """The keys of the messages in flight (their leases are renewed)."""
        with self._lock:
            return list(self._in_flight)

    def claimed(self, jobs: Sequence[uc.Claimed]) -> None:
        with self._lock:
            for job in jobs:
                self._in_flight[job.key] = job
        for job in jobs:
            self.to_send.put(Attempt(job))

    def accepted_parts(self, connector: str, parts: Iterable[tuple[int, str]]) -> None:
        """Parts a carrier accepted: their receipts wait for the record."""
        with self._lock:
            self._unrecorded.update((connector, c) for _, c in parts)

    def unrecorded(self, keys: Iterable[tuple[str, str]]) -> set[tuple[str, str]]:
        """Those of these (connector, carrier id) accepted but not yet recorded."""
        with self._lock:
            return {key for key in keys if key in self._unrecorded}

    def settled(self, outcomes: Sequence[uc.Outcome]) -> None:
        """These outcomes are recorded (or given up): no longer in flight."""
        with self._lock:
            for outcome in outcomes:
                self._in_flight.pop((outcome.message_id, outcome.created_at), None)
                if outcome.connector is not None:
                    self._unrecorded.difference_update(
                        (outcome.connector, c) for _, c in outcome.parts
                    )
        if self.wants_room.is_set() or self.stopping.is_set():
            self.wake.set()


def drain(
    source: queue.Queue[T], first_wait: float, linger: float, gap: float | None = None
) -> list[T]:
    """What is queued, up to a batch; waits `first_wait` for the first item,
    then up to `linger` for more: a store write costs about the same for one
    row as for hundreds, so a busy recorder writes few large batches. With
    `gap`, it stops lingering once nothing came for that long."""
    try:
        items = [source.get(timeout=first_wait)]
    except queue.Empty:
        return []
    until = time.monotonic() + linger
    while len(items) < BATCH:
        wait = max(until - time.monotonic(), 0.0)
        try:
            items.append(source.get(timeout=wait if gap is None else min(wait, gap)))
        except queue.Empty:
            break
    return items


def with_store(write: Callable[[], T], give_up: threading.Event) -> T:
    """Write until the store takes it, so what a carrier said is not dropped;
    once `give_up` is set (the drain is over) the store's Unavailable is raised:
    leases and carriers' redelivery take it up from there."""
    failures = 0
    while True:
        try:
            return write()
        except Unavailable:
            if give_up.is_set():
                raise
            failures += 1
            if give_up.wait(min(STORE_RETRY * failures, 10.0)):
                raise
