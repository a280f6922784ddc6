"""The receipts thread: records receipts and inbound messages from the
connectors in batches, then lets the connectors answer them (ack: after the
commit), and matches the receipts that overtook a recorded submission.

A receipt whose submission is being recorded right now waits for that record
(up to HOLD): applied then in one go, instead of being stored unmatched and
matched afterwards at twice the cost."""

from __future__ import annotations

import functools
import logging
import queue
import time
from collections.abc import Callable
from typing import Any, cast

from soapsms import metrics
from soapsms.usecases.dispatching.receipts import (
    InboundIn,
    ReceiptIn,
    match_recorded,
    record_inbound,
    record_receipts,
)
from soapsms.usecases.runtime import Runtime

from .connectors.base import Ack, Inbound, Receipt
from .pipeline import LINGER, Delivered, Pipeline, Recorded, Reported, drain, with_store

logger = logging.getLogger(__name__)

HOLD = 5.0  # seconds at most a receipt waits for its submission's record
# A carrier that sends its next deliver_sm only once the last is answered
# would otherwise wait out the whole linger for each receipt.
_RECEIPT_GAP = 0.005


class ReportSink:
    """Queues what connectors report (base.Sink); the receipts thread records it."""

    def __init__(self, items: queue.Queue[Reported]) -> None:
        self.items = items

    def receipt(self, receipt: Receipt, ack: Ack | None = None) -> None:
        metrics.get().receipts.labels(receipt.connector, receipt.stat).inc()
        item = ReceiptIn(
            connector=receipt.connector,
            carrier_id=receipt.carrier_id,
            stat=receipt.stat,
            err=receipt.err,
            error_code=receipt.error_code,
            done_at=receipt.done_at,
            raw=receipt.raw,
        )
        self.items.put(Delivered(item, ack))

    def inbound(self, message: Inbound, ack: Ack | None = None) -> None:
        item = InboundIn(
            connector=message.connector,
            sender=message.sender,
            recipient=message.recipient,
            text=message.text,
            received_at=message.received_at,
            extra=dict(message.extra),
        )
        self.items.put(Delivered(item, ack))


class ReceiptLoop:
    """Records what carriers delivered until the connectors are stopped."""

    def __init__(self, rt: Runtime, pipeline: Pipeline) -> None:
        self.rt = rt
        self.pipeline = pipeline

    def run(self) -> None:
        pipeline = self.pipeline
        held: list[tuple[float, Delivered]] = []
        while True:
            items = drain(pipeline.reported, 0.05, LINGER, _RECEIPT_GAP)
            if not items and not held:
                pipeline.receipts_idle.set()
                if pipeline.quiet.is_set():
                    return
                continue
            now = time.monotonic()
            held.extend(
                (now, i)
                for i in items
                if isinstance(i, Delivered) and isinstance(i.item, ReceiptIn)
            )
            quiet = pipeline.quiet.is_set()
            unrecorded = pipeline.unrecorded(
                (r.connector, r.carrier_id)
                for r in (cast(ReceiptIn, d.item) for _, d in held)
            )
            receipts: list[Delivered] = []
            waiting: list[tuple[float, Delivered]] = []
            for at, delivered in held:
                receipt = cast(ReceiptIn, delivered.item)
                if (
                    (receipt.connector, receipt.carrier_id) in unrecorded
                    and now - at < HOLD
                    and not quiet
                ):
                    waiting.append((at, delivered))
                else:
                    receipts.append(delivered)
            held = waiting
            if not receipts and not items:
                continue
            inbound = [
                i
                for i in items
                if isinstance(i, Delivered) and isinstance(i.item, InboundIn)
            ]
            recorded: dict[str, list[str]] = {}
            for item in items:
                if isinstance(item, Recorded):
                    for connector, ids in item.carrier_ids.items():
                        recorded.setdefault(connector, []).extend(ids)
            # Receipts and the matching of those that overtook the recorded
            # submissions share a transaction: fewer when the rate is low.
            if receipts and self._record_acked(
                functools.partial(record_receipts, recorded=recorded), receipts
            ):
                recorded = {}
            self._record_acked(record_inbound, inbound)
            if not recorded:
                continue
            try:
                with_store(
                    functools.partial(match_recorded, self.rt, recorded),
                    pipeline.give_up,
                )
            except Exception:
                logger.exception("matching receipts of %d recorded", len(recorded))

    def _record_acked(
        self, record: Callable[[Runtime, list[Any]], None], batch: list[Delivered]
    ) -> bool:
        """Record a batch, then answer each to its carrier: only once committed,
        so that a crash in between leaves it with the carrier to deliver again.
        Whether it was recorded."""
        if not batch:
            return True
        try:
            with_store(
                functools.partial(record, self.rt, [d.item for d in batch]),
                self.pipeline.give_up,
            )
            recorded = True
        except Exception:
            logger.exception("recording %d delivered items failed", len(batch))
            recorded = False  # the carrier is told to deliver them again
        for delivered in batch:
            if delivered.ack is not None:
                delivered.ack(recorded)
        return recorded
