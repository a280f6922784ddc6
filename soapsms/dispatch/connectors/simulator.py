"""An in-process carrier for demos and tests: latency, receipts, failures, a seed.

It answers submissions after a latency with its own carrier ids, and later
reports a receipt for every part through the Sink, exactly as a real
connector's reader thread would. Options ([connector:NAME] type = simulator,
declared in soapsms.config.connectors and checked at load):

    submit_latency_ms = 10        time to the submission's answer
    receipt_delay_ms = 500-2000   receipts come this long after (a range)
    rejected_rate = 0.01          refused at submission (REJECTED)
    undelivered_rate = 0.02       UNDELIV receipt (the rest: DELIVRD)
    seed =                        makes the outcomes repeatable
    window = 10                   outstanding submissions before submit blocks
    journal =                     file that gets "<message id> <pid>" per accepted
                                  submission (tests count them)
"""

from __future__ import annotations

import heapq
import itertools
import logging
import os
import random
import secrets
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future
from datetime import UTC, datetime

from soapsms.config.connectors import SimulatorOptions
from soapsms.domain import status
from soapsms.errors import ConnectorDown

from .base import Receipt, Sink, Submission, SubmitResult

__all__ = ["SimulatorConnector", "SimulatorOptions", "build"]

logger = logging.getLogger(__name__)


def build(name: str, settings: SimulatorOptions) -> SimulatorConnector:
    """The connector for a `[connector:NAME] type=simulator` section, from its
    options as the settings read and checked them (soapsms.config.connectors)."""
    return SimulatorConnector(name, settings)


class SimulatorConnector:
    """A carrier that lives in this process; see the module docstring."""

    def __init__(self, name: str, options: SimulatorOptions | None = None) -> None:
        self.name = name
        self.options = options or SimulatorOptions()
        self._random = random.Random(self.options.seed)
        self._window = threading.BoundedSemaphore(self.options.window)
        # (when, order, event, is the answer to a submission)
        self._events: list[tuple[float, int, Callable[[], None], bool]] = []
        self._order = itertools.count()
        self._wake = threading.Condition()
        self._sink: Sink | None = None
        self._thread: threading.Thread | None = None
        self._running = False
        self.submitted = 0

    # --- Connector ---------------------------------------------------------

    def start(self, sink: Sink) -> None:
        self._sink = sink
        self._running = True
        self._thread = threading.Thread(
            target=self._run, name=f"simulator-{self.name}", daemon=True
        )
        self._thread.start()

    def is_up(self) -> bool:
        return self._running

    def submit(self, submission: Submission) -> Future[SubmitResult]:
        if not self._running:
            raise ConnectorDown(f"{self.name} is not started")
        self._window.acquire()
        future: Future[SubmitResult] = Future()
        with self._wake:
            roll = self._random.random()
            delays = [
                self._random.uniform(*self.options.receipt_delay)
                for _ in submission.segments
            ]
        if roll < self.options.rejected_rate:
            result = SubmitResult(
                accepted=False,
                error_code=status.CARRIER_REJECTED,
                carrier_error="command_status=0x00000045",
                error_text="the simulator refused the submission",
            )
            stats = []
        else:
            # Parts an earlier attempt got accepted keep their ids (and receipts).
            ids = tuple(
                submission.done.get(number) or secrets.token_hex(8)
                for number in range(1, len(submission.segments) + 1)
            )
            result = SubmitResult(
                accepted=True,
                carrier_ids=ids,
                parts=tuple(
                    (n, i) for n, i in enumerate(ids, 1) if n not in submission.done
                ),
            )
            undelivered = (
                roll < self.options.rejected_rate + self.options.undelivered_rate
            )
            stats = ["DELIVRD"] * len(ids)
            if undelivered:
                stats[-1] = "UNDELIV"
            self._journal(submission.message_id)

        def answer() -> None:
            self._window.release()
            future.set_result(result)
            now = time.monotonic()
            for (_, carrier_id), stat, delay in zip(
                result.parts, stats, delays, strict=False
            ):
                self._at(now + delay, self._receipt(carrier_id, stat))

        self._at(time.monotonic() + self.options.submit_latency, answer, True)
        return future

    def stop(self) -> None:
        with self._wake:
            self._running = False
            # In-flight submissions are answered; receipts not yet due are lost,
            # as they would be with a carrier we disconnect from.
            pending = [e for e in self._events if e[3]]
            self._events = []
            self._wake.notify_all()
        for _, _, event, _ in sorted(pending):
            event()
        if self._thread is not None:
            self._thread.join(timeout=5)

    # --- the carrier's side ------------------------------------------------

    def _journal(self, message_id: str) -> None:
        self.submitted += 1
        if self.options.journal:
            # One write per line with O_APPEND: lines of several processes
            # never interleave.
            fd = os.open(self.options.journal, os.O_WRONLY | os.O_APPEND | os.O_CREAT)
            try:
                os.write(fd, f"{message_id} {os.getpid()}\n".encode())
            finally:
                os.close(fd)

    def _receipt(self, carrier_id: str, stat: str) -> Callable[[], None]:
        def deliver() -> None:
            assert self._sink is not None
            now = datetime.now(UTC).replace(tzinfo=None)
            err = "000" if stat == "DELIVRD" else "001"
            self._sink.receipt(
                Receipt(
                    connector=self.name,
                    carrier_id=carrier_id,
                    stat=stat,
                    err=err,
                    done_at=now,
                    raw=f"id:{carrier_id} sub:001 dlvrd:001 stat:{stat} err:{err}",
                )
            )

        return deliver

    def _at(self, when: float, event: Callable[[], None], answer: bool = False) -> None:
        with self._wake:
            heapq.heappush(self._events, (when, next(self._order), event, answer))
            self._wake.notify()

    def _run(self) -> None:
        while True:
            with self._wake:
                while self._running and (
                    not self._events or self._events[0][0] > time.monotonic()
                ):
                    timeout = (
                        self._events[0][0] - time.monotonic() if self._events else None
                    )
                    self._wake.wait(timeout)
                if not self._running:
                    return
                _, _, event, _ = heapq.heappop(self._events)
            try:
                event()
            except Exception:  # a sink error must not stop the carrier
                logger.exception("simulator %s: event failed", self.name)
