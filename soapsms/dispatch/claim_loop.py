"""The dispatcher's main thread: claims due messages (with a lease) in batches,
up to `max_in_flight` outstanding; expires overdue messages; sweeps for
receipts that overtook their submission's record."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from datetime import timedelta

from soapsms.errors import Unavailable
from soapsms.usecases.dispatching import queue as uc
from soapsms.usecases.dispatching.receipts import rematch_recent
from soapsms.usecases.runtime import Runtime

from .connector_pool import ConnectorPool
from .pipeline import IDLE, STORE_RETRY, Pipeline

logger = logging.getLogger(__name__)

_EXPIRE_EVERY = 1.0  # seconds between sweeps for messages whose validity passed
_REMATCH_EVERY = 5.0  # seconds between sweeps for receipts that overtook a submit


@dataclass
class ClaimLoop:
    """Claims until stopped, then waits up to `drain_seconds` for those in flight."""

    rt: Runtime
    pipeline: Pipeline
    pool: ConnectorPool
    dispatcher_id: str
    batch_size: int
    lease: timedelta
    drain_seconds: float

    @property
    def max_in_flight(self) -> int:
        return 2 * self.batch_size

    def run(self) -> None:
        pipeline = self.pipeline
        next_expiry = next_rematch = 0.0
        drain_until: float | None = None
        failures = 0
        while True:
            if pipeline.stopping.is_set():
                if drain_until is None:
                    drain_until = time.monotonic() + self.drain_seconds
                    logger.info(
                        "stopping: finishing %d in flight", pipeline.in_flight()
                    )
                if not pipeline.in_flight() or time.monotonic() > drain_until:
                    return
            pipeline.wake.clear()
            try:
                now = time.monotonic()
                if now >= next_expiry:
                    uc.expire_overdue(self.rt)
                    next_expiry = now + _EXPIRE_EVERY
                if now >= next_rematch:
                    rematch_recent(self.rt)
                    next_rematch = now + _REMATCH_EVERY
                claimed = 0
                # Set before in flight is read: a settle from then on wakes us.
                pipeline.wants_room.set()
                room = min(self.max_in_flight - pipeline.in_flight(), self.batch_size)
                # Whole batches, not a claim per recorded answer: each claim is
                # a transaction.
                roomy = room >= max(self.batch_size // 2, 1)
                if roomy:
                    pipeline.wants_room.clear()
                if not pipeline.stopping.is_set() and roomy and self.pool.any_up():
                    claimed = self._claim(room)
                failures = 0
            except Unavailable:
                failures += 1
                pipeline.stopping.wait(min(STORE_RETRY * failures, 10.0))
                continue
            if claimed < room or room <= 0 or pipeline.stopping.is_set():
                pipeline.wake.wait(IDLE)

    def _claim(self, room: int) -> int:
        jobs = uc.claim_batch(self.rt, self.dispatcher_id, room, self.lease)
        self.pipeline.claimed(jobs)
        return len(jobs)
