"""Failover and retry policy: what to do with a message after each connector's answer.

Pure: no store, no threads, no clock. Given a claimed message, what its
route's connectors said so far (`Tried`), the latest answer and how many of
the route's connectors are left, `decide` says one of

    SubmitNext    hand it to the route's next connector (this one is down, or
                  its carrier has no route for the number)
    Accepted      every part accepted: record it SUBMITTED
    RetryLater    back to the queue, due again after `delay` (EXPIRED instead
                  once validity ends): a temporary error, or no connector up
    Fail          final: REJECTED by the carrier, or FAILED for want of a route

The store applies the delay (`usecases.dispatching.queue.record_submissions`)
with the same schedule, `retry_delay` and `NO_CONNECTOR_WAIT`.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, replace
from datetime import timedelta

from soapsms.domain import status
from soapsms.usecases.dispatching import queue as uc

from .connectors.base import SubmitResult


class Unserved(enum.Enum):
    """A hand-over that did not happen."""

    NO_ROUTE = "no route"  # the routing table has no connector for the number
    DOWN = "down"  # this connector is down or refused the hand-over


@dataclass(frozen=True)
class Tried:
    """What a message's route said so far, on this claim."""

    last: SubmitResult | None = None  # the last refusal that moved it on
    skipped: bool = False  # a connector was passed over because it was down


@dataclass(frozen=True)
class SubmitNext:
    """Hand the message to the route's next connector."""

    tried: Tried


@dataclass(frozen=True)
class Accepted:
    """Every part accepted: SUBMITTED."""

    outcome: uc.Outcome


@dataclass(frozen=True)
class RetryLater:
    """QUEUED again, due after `delay`; EXPIRED once validity ends first."""

    outcome: uc.Outcome
    delay: timedelta


@dataclass(frozen=True)
class Fail:
    """Final: REJECTED (the carrier refused it for good) or FAILED (no route)."""

    outcome: uc.Outcome

    @property
    def code(self) -> str | None:
        return self.outcome.error_code


Decision = SubmitNext | Accepted | RetryLater | Fail
Answer = SubmitResult | BaseException | Unserved


def as_result(answer: SubmitResult | BaseException) -> SubmitResult:
    """A connector's answer; an exception (a connection lost mid-window and the
    like) is a temporary network error."""
    if isinstance(answer, SubmitResult):
        return answer
    return SubmitResult(
        accepted=False,
        retry=True,
        error_code=status.NETWORK_ERROR,
        carrier_error=f"{type(answer).__name__}: {answer}"[:100],
    )


def new_parts(job: uc.Claimed, result: SubmitResult) -> tuple[tuple[int, str], ...]:
    """The parts this attempt got accepted (not those accepted before)."""
    parts = result.parts or (
        tuple(enumerate(result.carrier_ids, start=1)) if result.accepted else ()
    )
    return tuple(p for p in parts if p[0] not in job.done)


def decide(
    job: uc.Claimed,
    tried: Tried,
    answer: Answer,
    *,
    connector: str | None = None,
    left: int = 0,
) -> Decision:
    """The next step for `job` after `answer` from `connector`, with `left` of
    its route's connectors not yet tried."""
    if answer is Unserved.NO_ROUTE:
        return Fail(
            uc.Outcome(
                job.message_id,
                job.created_at,
                uc.FAILED,
                error_code=status.ROUTING_ERROR,
                error_text="no route serves this number",
            )
        )
    if answer is Unserved.DOWN:
        tried = replace(tried, skipped=True)
        return SubmitNext(tried) if left > 0 else exhausted(job, tried)
    assert not isinstance(answer, Unserved)
    result = as_result(answer)
    parts = new_parts(job, result)
    if result.accepted:
        return Accepted(
            uc.Outcome(
                job.message_id,
                job.created_at,
                uc.ACCEPTED,
                connector=connector,
                carrier_ids=tuple(result.carrier_ids),
                parts=parts,
            )
        )
    # Part of the message is with this carrier: no other route for the rest.
    if result.error_code == status.ROUTING_ERROR and not parts:
        # The carrier has no route: the contingency route may.
        tried = replace(tried, last=result)
        return SubmitNext(tried) if left > 0 else exhausted(job, tried)
    outcome = uc.Outcome(
        job.message_id,
        job.created_at,
        uc.RETRY if result.retry else uc.REJECTED,
        connector=connector,
        error_code=result.error_code,
        carrier_error=result.carrier_error,
        error_text=result.error_text,
        parts=parts,
    )
    if result.retry:
        return RetryLater(outcome, uc.retry_delay(job.attempts))
    return Fail(outcome)


def exhausted(job: uc.Claimed, tried: Tried) -> Decision:
    """Every connector of the route passed over or without a route for it."""
    last = tried.last
    if last is None:  # none was up: not an attempt
        return RetryLater(
            uc.Outcome(job.message_id, job.created_at, uc.NOT_TRIED),
            uc.NO_CONNECTOR_WAIT,
        )
    # Only when every carrier said it has no route is there none; one that was
    # down may have.
    final = last.error_code == status.ROUTING_ERROR and not tried.skipped
    outcome = uc.Outcome(
        job.message_id,
        job.created_at,
        uc.FAILED if final else uc.RETRY,
        error_code=last.error_code,
        carrier_error=last.carrier_error,
        error_text=last.error_text,
    )
    if final:
        return Fail(outcome)
    return RetryLater(outcome, uc.retry_delay(job.attempts))
