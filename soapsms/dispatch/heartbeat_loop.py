"""The heartbeat thread: keeps the dispatcher's row alive, renews the leases of
the messages in flight and publishes the connectors' bind state."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import timedelta

from soapsms.errors import Unavailable
from soapsms.usecases.dispatching import queue as uc
from soapsms.usecases.runtime import Runtime

from .connector_pool import ConnectorPool
from .pipeline import Pipeline

logger = logging.getLogger(__name__)


@dataclass
class HeartbeatLoop:
    """Beats every `beat_every` seconds until the connectors are stopped."""

    rt: Runtime
    pipeline: Pipeline
    pool: ConnectorPool
    dispatcher_id: str
    lease: timedelta
    beat_every: float

    def run(self) -> None:
        while not self.pipeline.quiet.wait(self.beat_every):
            self.pool.publish_state()
            try:
                if not uc.heartbeat(self.rt, self.dispatcher_id):
                    logger.error(
                        "dispatcher %s was taken for dead (no heartbeat for %s); "
                        "is the store or this host stalling?",
                        self.dispatcher_id,
                        self.lease,
                    )
                uc.renew_leases(
                    self.rt, self.dispatcher_id, self.pipeline.leased(), self.lease
                )
            except Unavailable:
                logger.warning("heartbeat failed: the store is unavailable")
