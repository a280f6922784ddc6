"""The dispatcher: claim → route → submit → record; receipts; retries; signals.

Threads, so that no step waits on another it does not need:

    main        claims due messages (with a lease) in batches, up to
                `max_in_flight` outstanding; expires overdue messages
    sender      hands claimed messages to their route's connectors (a
                connector blocks while its window is full, so claiming goes
                on meanwhile); fails over on ConnectorDown / ROUTING_ERROR
    recorder    records the carriers' answers in batches (one transaction each)
    receipts    records receipts and inbound messages from the Sink in batches
                (a receipt whose submission is being recorded waits for that),
                and matches the receipts that overtook a recorded submission
    heartbeat   keeps the dispatcher's row alive and renews in-flight leases
    callbacks   drains the status-callback outbox (soapsms.dispatch.callbacks)

A crash loses nothing: a leased message is taken up again once its lease
runs out. The one thing a crash can repeat is a submission the carrier
accepted but we had not recorded yet (docs/dispatcher.md).
"""

from __future__ import annotations

import functools
import logging
import os
import queue
import signal
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, TypeVar

from soapsms import metrics
from soapsms.domain import status
from soapsms.errors import Unavailable
from soapsms.usecases import dispatching as uc
from soapsms.usecases.dispatching_receipts import (
    InboundIn,
    ReceiptIn,
    match_recorded,
    record_inbound,
    record_receipts,
    rematch_recent,
)
from soapsms.usecases.runtime import Runtime

from .callbacks import CallbackSender, Transport
from .connectors.base import (
    Connector,
    ConnectorDown,
    Inbound,
    Receipt,
    Submission,
    SubmitResult,
)
from .routing import Router, build_connectors

logger = logging.getLogger(__name__)

T = TypeVar("T")

_BATCH = 500  # outcomes or receipts recorded in one transaction at most
_IDLE = 0.2  # seconds between looks at the store when nothing is due
_STORE_RETRY = 1.0  # seconds before trying a failed store write again
_REMATCH_EVERY = 5.0  # seconds between sweeps for receipts that overtook a submit
_LINGER = 0.03  # seconds a recording thread waits to fill its batch
_HOLD = 5.0  # seconds at most a receipt waits for its submission's record


@dataclass(frozen=True)
class _Recorded:
    """Carrier ids whose submissions were just recorded, by connector."""

    carrier_ids: dict[str, list[str]]


@dataclass
class _Attempt:
    """A claimed message on its way through the route's connectors."""

    job: uc.Claimed
    index: int = 0  # the next connector of the route to try
    last: SubmitResult | None = None
    skipped: bool = False  # a connector was passed over because it was down
    handed_at: float = 0.0  # monotonic time of the last hand-over, for latency


class _Sink:
    """Queues what connectors report; the receipts thread records it."""

    def __init__(self, items: queue.Queue[ReceiptIn | InboundIn | _Recorded]) -> None:
        self.items = items

    def receipt(self, receipt: Receipt) -> None:
        metrics.get().receipts.labels(receipt.connector, receipt.stat).inc()
        self.items.put(
            ReceiptIn(
                connector=receipt.connector,
                carrier_id=receipt.carrier_id,
                stat=receipt.stat,
                err=receipt.err,
                error_code=receipt.error_code,
                done_at=receipt.done_at,
                raw=receipt.raw,
            )
        )

    def inbound(self, message: Inbound) -> None:
        self.items.put(
            InboundIn(
                connector=message.connector,
                sender=message.sender,
                recipient=message.recipient,
                text=message.text,
                received_at=message.received_at,
                extra=dict(message.extra),
            )
        )


def _drain(source: queue.Queue[T], first_wait: float, linger: float) -> list[T]:
    """What is queued, up to a batch; waits `first_wait` for the first item,
    then up to `linger` for more: a store write costs about the same for one
    row as for hundreds, so a busy recorder writes few large batches."""
    try:
        items = [source.get(timeout=first_wait)]
    except queue.Empty:
        return []
    until = time.monotonic() + linger
    while len(items) < _BATCH:
        try:
            items.append(source.get(timeout=max(until - time.monotonic(), 0.0)))
        except queue.Empty:
            break
    return items


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
        self.connectors = (
            connectors if connectors is not None else build_connectors(settings.routes)
        )
        self.router = Router(settings.routes, self.connectors)
        self.batch_size = batch_size or settings.dispatch_batch_size
        self.max_in_flight = 2 * self.batch_size
        self.lease = timedelta(seconds=lease_seconds or settings.dispatch_lease_seconds)
        self.beat_every = max(0.5, min(5.0, self.lease.total_seconds() / 4))
        self.drain_seconds = drain_seconds
        self.dispatcher_id = (
            f"{socket.gethostname()[:40]}:{os.getpid()}:{os.urandom(3).hex()}"
        )
        self.exclusive = rt.engine.dialect.name == "sqlite"
        self._in_flight: dict[tuple[str, Any], uc.Claimed] = {}
        # (connector, carrier id) accepted by a carrier, not yet recorded
        self._unrecorded: set[tuple[str, str]] = set()
        self._lock = threading.Lock()
        self._outcomes: queue.Queue[uc.Outcome] = queue.Queue()
        self._reported: queue.Queue[ReceiptIn | InboundIn | _Recorded] = queue.Queue()
        self._to_send: queue.Queue[_Attempt] = queue.Queue()
        self._wake = threading.Event()
        self._stopping = threading.Event()
        self._done = threading.Event()  # main loop finished handing over
        self._quiet = threading.Event()  # connectors stopped: nothing more arrives
        self._threads: list[threading.Thread] = []
        self.callback_sender = (
            CallbackSender(rt, self.dispatcher_id, transport=callback_transport)
            if callbacks
            else None
        )

    # --- life cycle ----------------------------------------------------------

    def register(self, wait: bool = False) -> None:
        """Announce this dispatcher; on SQLite refuse (or wait) while another runs."""
        while True:
            try:
                uc.register_dispatcher(
                    self.rt,
                    self.dispatcher_id,
                    socket.gethostname(),
                    os.getpid(),
                    self.lease,
                    exclusive=self.exclusive,
                )
                return
            except uc.AnotherDispatcher as exc:
                if not wait or self._stopping.is_set():
                    raise
                logger.warning("%s; waiting", exc.message)
                self._stopping.wait(self.beat_every)

    def run(self, wait: bool = False) -> None:
        """Register, start the connectors and threads, dispatch until stopped."""
        self.register(wait)
        logger.info(
            "dispatcher %s started: connectors %s",
            self.dispatcher_id,
            ", ".join(self.connectors),
        )
        sink = _Sink(self._reported)
        for connector in self.connectors.values():
            connector.start(sink)
        for name, target in (
            ("recorder", self._record_loop),
            ("sender", self._send_loop),
            ("receipts", self._receipt_loop),
            ("heartbeat", self._heartbeat_loop),
        ):
            thread = threading.Thread(
                target=target, name=f"dispatch-{name}", daemon=True
            )
            thread.start()
            self._threads.append(thread)
        if self.callback_sender is not None:
            self.callback_sender.start()
        try:
            self._main_loop()
        finally:
            self._shutdown()

    def stop(self) -> None:
        """Stop claiming; in-flight submissions are finished and recorded."""
        self._stopping.set()
        self._wake.set()

    def _shutdown(self) -> None:
        self._done.set()
        recorder = self._threads[0]
        recorder.join(timeout=self.drain_seconds)
        for connector in self.connectors.values():
            try:
                connector.stop()
            except Exception:
                logger.exception("connector %s did not stop cleanly", connector.name)
        self._quiet.set()
        for thread in self._threads[1:]:
            thread.join(timeout=10)
        if self.callback_sender is not None:
            self.callback_sender.stop()
        try:
            uc.unregister_dispatcher(self.rt, self.dispatcher_id)
        except Unavailable:
            logger.warning("could not unregister; the row goes stale by itself")
        with self._lock:
            left = len(self._in_flight)
        if left:
            logger.warning(
                "stopped with %d submissions unanswered; their leases run out "
                "and another dispatcher takes them up",
                left,
            )
        logger.info("dispatcher %s stopped", self.dispatcher_id)

    # --- main loop -------------------------------------------------------------

    def _main_loop(self) -> None:
        next_expiry = next_rematch = 0.0
        drain_until: float | None = None
        failures = 0
        while True:
            if self._stopping.is_set():
                if drain_until is None:
                    drain_until = time.monotonic() + self.drain_seconds
                    logger.info("stopping: finishing %d in flight", self.in_flight())
                if not self.in_flight() or time.monotonic() > drain_until:
                    return
            self._wake.clear()
            try:
                now = time.monotonic()
                if now >= next_expiry:
                    uc.expire_overdue(self.rt)
                    next_expiry = now + 1.0
                if now >= next_rematch:
                    rematch_recent(self.rt)
                    next_rematch = now + _REMATCH_EVERY
                claimed = 0
                room = min(self.max_in_flight - self.in_flight(), self.batch_size)
                # Whole batches, not a claim per recorded answer: each claim is
                # a transaction.
                if (
                    not self._stopping.is_set()
                    and room >= max(self.batch_size // 2, 1)
                    and self.router.any_up()
                ):
                    claimed = self._claim_and_submit(room)
                failures = 0
            except Unavailable:
                failures += 1
                self._stopping.wait(min(_STORE_RETRY * failures, 10.0))
                continue
            if claimed < room or room <= 0 or self._stopping.is_set():
                self._wake.wait(_IDLE)

    def _claim_and_submit(self, room: int) -> int:
        jobs = uc.claim_batch(self.rt, self.dispatcher_id, room, self.lease)
        with self._lock:
            for job in jobs:
                self._in_flight[job.key] = job
        for job in jobs:
            self._to_send.put(_Attempt(job))
        return len(jobs)

    def _send_loop(self) -> None:
        while True:
            try:
                attempt = self._to_send.get(timeout=_IDLE)
            except queue.Empty:
                if self._done.is_set():
                    return
                continue
            self._try(attempt)

    def in_flight(self) -> int:
        with self._lock:
            return len(self._in_flight)

    def _try(self, attempt: _Attempt) -> None:
        """Hand the message to the next connector of its route that is up."""
        job = attempt.job
        route = self.router.candidates(job.recipient)
        if not route:
            self._outcomes.put(
                uc.Outcome(
                    job.message_id,
                    job.created_at,
                    uc.FAILED,
                    error_code=status.ROUTING_ERROR,
                    error_text="no route serves this number",
                )
            )
            return
        submission = Submission(
            message_id=job.message_id,
            recipient=job.recipient,
            sender=job.sender,
            encoding=job.encoding,
            segments=job.segments,
            expires_at=job.expires_at,
        )
        while attempt.index < len(route):
            connector = route[attempt.index]
            attempt.index += 1
            if not connector.is_up():
                self.router.note(connector, up=False)
                attempt.skipped = True
                continue
            try:
                future = connector.submit(submission)
            except ConnectorDown:
                self.router.note(connector, up=False)
                attempt.skipped = True
                continue
            self.router.note(connector, up=True)
            attempt.handed_at = time.monotonic()
            future.add_done_callback(
                functools.partial(self._answered, attempt, connector)
            )
            return
        self._exhausted(attempt)

    def _exhausted(self, attempt: _Attempt) -> None:
        job, last = attempt.job, attempt.last
        if last is None:
            outcome = uc.Outcome(job.message_id, job.created_at, uc.NOT_TRIED)
        else:
            kind = (
                uc.FAILED
                if last.error_code == status.ROUTING_ERROR and not attempt.skipped
                else uc.RETRY
            )
            outcome = uc.Outcome(
                job.message_id,
                job.created_at,
                kind,
                error_code=last.error_code,
                carrier_error=last.carrier_error,
                error_text=last.error_text,
            )
        self._outcomes.put(outcome)

    def _answered(self, attempt: _Attempt, connector: Connector, future: Any) -> None:
        """A connector's answer (called in the connector's thread): quick."""
        job = attempt.job
        try:
            result: SubmitResult = future.result()
        except Exception as exc:  # lost connection mid-window and the like
            result = SubmitResult(
                accepted=False,
                retry=True,
                error_code=status.NETWORK_ERROR,
                carrier_error=f"{type(exc).__name__}: {exc}"[:100],
            )
        counters = metrics.get()
        counters.submit_latency.labels(connector.name).observe(
            time.monotonic() - attempt.handed_at
        )
        counters.submits.labels(
            connector.name,
            "accepted"
            if result.accepted
            else ("retry" if result.retry else "rejected"),
        ).inc()
        if result.accepted:
            with self._lock:
                self._unrecorded.update((connector.name, c) for c in result.carrier_ids)
            self._outcomes.put(
                uc.Outcome(
                    job.message_id,
                    job.created_at,
                    uc.ACCEPTED,
                    connector=connector.name,
                    carrier_ids=tuple(result.carrier_ids),
                )
            )
            return
        attempt.last = result
        if result.error_code == status.ROUTING_ERROR and attempt.index < len(
            self.router.candidates(job.recipient)
        ):
            # The carrier has no route: the contingency route may.
            self._to_send.put(attempt)
            return
        if result.error_code == status.ROUTING_ERROR:
            self._exhausted(attempt)
            return
        self._outcomes.put(
            uc.Outcome(
                job.message_id,
                job.created_at,
                uc.RETRY if result.retry else uc.REJECTED,
                connector=connector.name,
                error_code=result.error_code,
                carrier_error=result.carrier_error,
                error_text=result.error_text,
            )
        )

    # --- recording threads -----------------------------------------------------

    def _with_store(self, write: Callable[[], T]) -> T:
        """Write until the store takes it: what a carrier said is never dropped."""
        failures = 0
        while True:
            try:
                return write()
            except Unavailable:
                failures += 1
                time.sleep(min(_STORE_RETRY * failures, 10.0))

    def _record_loop(self) -> None:
        while True:
            outcomes = _drain(self._outcomes, 0.05, _LINGER)
            if not outcomes:
                if self._done.is_set() and (
                    not self.in_flight() or self._stopping.is_set()
                ):
                    if self._outcomes.empty():
                        return
                continue
            try:
                self._recorded(
                    self._with_store(
                        functools.partial(uc.record_submissions, self.rt, outcomes)
                    )
                )
            except Exception:
                logger.exception(
                    "recording %d outcomes failed; one by one", len(outcomes)
                )
                for outcome in outcomes:
                    try:
                        self._recorded(
                            self._with_store(
                                functools.partial(
                                    uc.record_submissions, self.rt, [outcome]
                                )
                            )
                        )
                    except Exception:
                        logger.exception("recording %s failed", outcome.message_id)
            with self._lock:
                for outcome in outcomes:
                    self._in_flight.pop((outcome.message_id, outcome.created_at), None)
                    if outcome.connector is not None:
                        self._unrecorded.difference_update(
                            (outcome.connector, c) for c in outcome.carrier_ids
                        )
            self._wake.set()

    def _recorded(self, carrier_ids: dict[str, list[str]]) -> None:
        # Receipts that overtook these submissions are matched by the receipts
        # thread: after any receipt it is storing now, so none is missed.
        if carrier_ids:
            self._reported.put(_Recorded(carrier_ids))

    def _receipt_loop(self) -> None:
        # Receipts for submissions being recorded right now wait here for that
        # record (up to _HOLD): applied then in one go, instead of being
        # stored unmatched and matched afterwards at twice the cost.
        held: list[tuple[float, ReceiptIn]] = []
        while True:
            items = _drain(self._reported, 0.05, _LINGER)
            if not items and not held:
                if self._quiet.is_set():
                    return
                continue
            now = time.monotonic()
            held.extend((now, i) for i in items if isinstance(i, ReceiptIn))
            quiet = self._quiet.is_set()
            receipts: list[ReceiptIn] = []
            waiting: list[tuple[float, ReceiptIn]] = []
            with self._lock:
                for at, receipt in held:
                    if (
                        (receipt.connector, receipt.carrier_id) in self._unrecorded
                        and now - at < _HOLD
                        and not quiet
                    ):
                        waiting.append((at, receipt))
                    else:
                        receipts.append(receipt)
            held = waiting
            if not receipts and not items:
                continue
            inbound = [i for i in items if isinstance(i, InboundIn)]
            recorded: dict[str, list[str]] = {}
            for item in items:
                if isinstance(item, _Recorded):
                    for connector, ids in item.carrier_ids.items():
                        recorded.setdefault(connector, []).extend(ids)
            try:
                self._with_store(functools.partial(record_receipts, self.rt, receipts))
                self._with_store(functools.partial(record_inbound, self.rt, inbound))
                self._with_store(functools.partial(match_recorded, self.rt, recorded))
            except Exception:
                logger.exception("recording %d receipts failed", len(items))

    def _heartbeat_loop(self) -> None:
        while not self._quiet.wait(self.beat_every):
            try:
                if not uc.heartbeat(self.rt, self.dispatcher_id):
                    logger.error(
                        "dispatcher %s was taken for dead (no heartbeat for %s); "
                        "is the store or this host stalling?",
                        self.dispatcher_id,
                        self.lease,
                    )
                with self._lock:
                    keys = list(self._in_flight)
                uc.renew_leases(self.rt, self.dispatcher_id, keys, self.lease)
            except Unavailable:
                logger.warning("heartbeat failed: the store is unavailable")


def run_dispatcher(
    rt: Runtime, *, wait: bool = False, metrics_bind: str = "off"
) -> int:
    """`soapsms dispatch`: run until SIGTERM or SIGINT, then finish in-flight work;
    with `metrics_bind` (HOST:PORT) serve its metrics there."""
    uc.check_schema(rt)
    dispatcher = Dispatcher(rt)
    if metrics_bind != "off":
        from .observe import start

        start(rt, metrics_bind)

    def stop(signum: int, _frame: object) -> None:
        logger.info("signal %d: stopping", signum)
        dispatcher.stop()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    dispatcher.run(wait=wait)
    return 0
