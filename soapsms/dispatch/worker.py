"""The dispatcher: claim → route → submit → record; receipts; retries; signals.

Threads, so that no step waits on another it does not need, one module each
around the queues they share (pipeline) and one decision (policy):

    main        claim_loop: claims due messages (with a lease) in batches, up
                to `max_in_flight` outstanding; expires overdue messages
    sender      submit_loop: hands claimed messages to their route's connectors
                (connector_pool); fails over or retries as policy.decide says
    recorder    record_loop: records the carriers' answers in batches (one
                transaction each)
    receipts    receipt_loop: records receipts and inbound messages, then lets
                the connectors answer them (ack: after the commit)
    heartbeat   heartbeat_loop: keeps the dispatcher's row alive and renews
                in-flight leases
    callbacks   drains the status-callback outbox (soapsms.dispatch.callbacks)

A crash loses nothing: a leased message is taken up again once its lease
runs out, and a receipt is answered to the carrier only once recorded, so
the carrier delivers it again. The one thing a crash can repeat is a
submission the carrier accepted but we had not recorded yet
(docs/dispatcher.md).
"""

from __future__ import annotations

import logging
import os
import signal
import socket
import threading
from collections.abc import Callable
from datetime import timedelta

from soapsms.errors import AnotherDispatcher, Unavailable
from soapsms.usecases.dispatching import queue as uc
from soapsms.usecases.runtime import Runtime

from .callbacks import CallbackSender, Transport
from .claim_loop import ClaimLoop
from .connector_pool import ConnectorPool
from .connectors.base import Connector
from .heartbeat_loop import HeartbeatLoop
from .pipeline import Pipeline
from .receipt_loop import HOLD, ReceiptLoop, ReportSink
from .record_loop import RecordLoop
from .submit_loop import SubmitLoop

logger = logging.getLogger(__name__)


class Dispatcher:
    """One dispatcher process's work; `run()` blocks until `stop()`."""

    def __init__(
        self,
        rt: Runtime,
        connectors: dict[str, Connector] | None = None,
        *,
        batch_size: int | None = None,
        lease_seconds: float | None = None,
        callbacks: bool = True,
        callback_transport: Transport | None = None,
        drain_seconds: float = 30.0,
    ) -> None:
        self.rt = rt
        settings = rt.settings
        self.dispatcher_id = (
            f"{socket.gethostname()[:40]}:{os.getpid()}:{os.urandom(3).hex()}"
        )
        self.pool = ConnectorPool(rt, connectors, self.dispatcher_id)
        self.connectors = self.pool.connectors
        self.batch_size = batch_size or settings.dispatch_batch_size
        self.lease = timedelta(seconds=lease_seconds or settings.dispatch_lease_seconds)
        self.beat_every = max(0.5, min(5.0, self.lease.total_seconds() / 4))
        self.drain_seconds = drain_seconds
        self.exclusive = rt.store.one_dispatcher
        self._held: uc.HeldLock | None = None  # SQLite: the one dispatcher's flock
        self.pipeline = Pipeline()
        self.claim_loop = ClaimLoop(
            rt,
            self.pipeline,
            self.pool,
            dispatcher_id=self.dispatcher_id,
            batch_size=self.batch_size,
            lease=self.lease,
            drain_seconds=drain_seconds,
        )
        self._threads: list[threading.Thread] = []
        self.callback_sender = (
            CallbackSender(rt, self.dispatcher_id, transport=callback_transport)
            if callbacks
            else None
        )

    def in_flight(self) -> int:
        return self.pipeline.in_flight()

    # --- life cycle ----------------------------------------------------------

    def register(self, wait: bool = False) -> None:
        """Announce this dispatcher; on SQLite refuse (or wait) while another runs."""
        while True:
            try:
                self._held = uc.register_dispatcher(
                    self.rt,
                    self.dispatcher_id,
                    socket.gethostname(),
                    os.getpid(),
                    self.lease,
                    exclusive=self.exclusive,
                )
                return
            except AnotherDispatcher as exc:
                if not wait or self.pipeline.stopping.is_set():
                    raise
                logger.warning("%s; waiting", exc.message)
                self.pipeline.stopping.wait(self.beat_every)

    def run(self, wait: bool = False) -> None:
        """Register, start the connectors and threads, dispatch until stopped."""
        self.register(wait)
        logger.info(
            "dispatcher %s started: connectors %s",
            self.dispatcher_id,
            ", ".join(self.connectors),
        )
        self.pool.start(ReportSink(self.pipeline.reported))
        loops: tuple[tuple[str, Callable[[], None]], ...] = (
            ("recorder", RecordLoop(self.rt, self.pipeline).run),
            ("sender", SubmitLoop(self.pipeline, self.pool).run),
            ("receipts", ReceiptLoop(self.rt, self.pipeline).run),
            (
                "heartbeat",
                HeartbeatLoop(
                    self.rt,
                    self.pipeline,
                    self.pool,
                    dispatcher_id=self.dispatcher_id,
                    lease=self.lease,
                    beat_every=self.beat_every,
                ).run,
            ),
        )
        for name, target in loops:
            thread = threading.Thread(
                target=target, name=f"dispatch-{name}", daemon=True
            )
            thread.start()
            self._threads.append(thread)
        if self.callback_sender is not None:
            self.callback_sender.start()
        try:
            self.claim_loop.run()
        finally:
            self._shutdown()

    def stop(self) -> None:
        """Stop claiming; in-flight submissions are finished and recorded."""
        self.pipeline.stopping.set()
        self.pipeline.wake.set()

    def _shutdown(self) -> None:
        pipeline = self.pipeline
        pipeline.done.set()
        recorder = self._threads[0]
        recorder.join(timeout=self.drain_seconds)
        # Receipts still queued are recorded and answered while the binds last.
        pipeline.receipts_idle.clear()
        pipeline.receipts_idle.wait(timeout=HOLD + 1.0)
        # The drain is over: a store still unavailable is not waited for; the
        # leases and the carriers' redelivery take up what is left.
        pipeline.give_up.set()
        self.pool.stop()
        pipeline.quiet.set()
        for thread in self._threads[1:]:
            thread.join(timeout=10)
        if self.callback_sender is not None:
            self.callback_sender.stop()
        try:
            uc.unregister_dispatcher(self.rt, self.dispatcher_id)
        except Unavailable:
            logger.warning("could not unregister; the row goes stale by itself")
        if self._held is not None:
            self._held.release()  # after the row: a successor finds it gone
        left = pipeline.in_flight()
        if left:
            logger.warning(
                "stopped with %d submissions unanswered; their leases run out "
                "and another dispatcher takes them up",
                left,
            )
        logger.info("dispatcher %s stopped", self.dispatcher_id)


def run_dispatcher(
    rt: Runtime, *, wait: bool = False, metrics_bind: str = "off"
) -> int:
    """`soapsms dispatch`: run until SIGTERM or SIGINT, then finish in-flight work;
    with `metrics_bind` (HOST:PORT) serve its metrics there."""
    uc.check_schema(rt)
    dispatcher = Dispatcher(rt)
    if metrics_bind != "off":
        from .metrics_server import start

        start(rt, metrics_bind)

    def stop(signum: int, _frame: object) -> None:
        logger.info("signal %d: stopping", signum)
        dispatcher.stop()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    dispatcher.run(wait=wait)
    return 0
