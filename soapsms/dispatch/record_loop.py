"""The recorder thread: records the carriers' answers in batches, one
transaction each, and tells the receipts thread which carrier ids it recorded."""

from __future__ import annotations

import functools
import logging

from soapsms.errors import Unavailable
from soapsms.usecases.dispatching import queue as uc
from soapsms.usecases.runtime import Runtime

from .pipeline import LINGER, Pipeline, Recorded, drain, with_store

logger = logging.getLogger(__name__)


class RecordLoop:
    """Records until the claim loop is done and nothing is in flight (or, once
    stopping, nothing is queued)."""

    def __init__(self, rt: Runtime, pipeline: Pipeline) -> None:
        self.rt = rt
        self.pipeline = pipeline

    def run(self) -> None:
        pipeline = self.pipeline
        while True:
            outcomes = drain(pipeline.outcomes, 0.05, LINGER)
            if not outcomes:
                if pipeline.done.is_set() and (
                    not pipeline.in_flight() or pipeline.stopping.is_set()
                ):
                    if pipeline.outcomes.empty():
                        return
                continue
            try:
                self._record(outcomes)
            except Unavailable:  # only once the drain is over
                logger.warning(
                    "store unavailable: %d outcomes not recorded; their leases "
                    "run out and another dispatcher takes them up",
                    len(outcomes),
                )
            except Exception:
                logger.exception(
                    "recording %d outcomes failed; one by one", len(outcomes)
                )
                for outcome in outcomes:
                    try:
                        self._record([outcome])
                    except Exception:
                        logger.exception("recording %s failed", outcome.message_id)
            pipeline.settled(outcomes)

    def _record(self, outcomes: list[uc.Outcome]) -> None:
        carrier_ids = with_store(
            functools.partial(uc.record_submissions, self.rt, outcomes),
            self.pipeline.give_up,
        )
        # Receipts that overtook these submissions are matched by the receipts
        # thread: after any receipt it is storing now, so none is missed.
        if carrier_ids:
            self.pipeline.reported.put(Recorded(carrier_ids))
