"""The failover and retry policy as a table: every answer a route can give."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta
from types import MappingProxyType

import pytest

from soapsms.dispatch import policy
from soapsms.dispatch.connectors.base import SubmitResult
from soapsms.dispatch.policy import (
    Accepted,
    Fail,
    RetryLater,
    SubmitNext,
    Tried,
    Unserved,
)
from soapsms.usecases.dispatching import queue as uc

JOB = uc.Claimed(
    message_id="m1",
    created_at=datetime(2026, 1, 1),
    account_id="acme",
    recipient="+17036069996",
    sender=None,
    encoding="GSM7",
    segments=("a", "b", "c"),
    expires_at=datetime(2026, 1, 2),
    attempts=3,
)
# Part 1 went through an earlier attempt via "primary".
RESUMED = replace(JOB, done=MappingProxyType({1: "c1"}), connector="primary")
OK = SubmitResult(accepted=True, carrier_ids=("c1", "c2", "c3"))
THROTTLED = SubmitResult(
    accepted=False, retry=True, error_code="THROTTLED", carrier_error="0x58"
)
REFUSED = SubmitResult(
    accepted=False, error_code="INVALID_RECIPIENT", carrier_error="0x0B"
)
NO_ROUTE = SubmitResult(
    accepted=False, error_code="ROUTING_ERROR", carrier_error="0x0B"
)
NO_ROUTE_PART_TAKEN = SubmitResult(
    accepted=False, error_code="ROUTING_ERROR", parts=((1, "c1"),)
)
NEVER = Tried()
SKIPPED = Tried(skipped=True)
NO_ROUTE_BEFORE = Tried(last=NO_ROUTE)
BACKOFF = uc.retry_delay(JOB.attempts)


def outcome(kind: str, **fields: object) -> uc.Outcome:
    return uc.Outcome(JOB.message_id, JOB.created_at, kind, **fields)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("job", "tried", "answer", "left", "expected"),
    [
        # Nothing to hand it to.
        (
            JOB,
            NEVER,
            Unserved.NO_ROUTE,
            0,
            Fail(
                outcome(
                    uc.FAILED,
                    error_code="ROUTING_ERROR",
                    error_text="no route serves this number",
                )
            ),
        ),
        # A connector down: the next one; the last one down: look again soon.
        (JOB, NEVER, Unserved.DOWN, 1, SubmitNext(SKIPPED)),
        (
            JOB,
            NEVER,
            Unserved.DOWN,
            0,
            RetryLater(outcome(uc.NOT_TRIED), uc.NO_CONNECTOR_WAIT),
        ),
        # Down after a carrier said it has no route: the down one may have.
        (
            JOB,
            NO_ROUTE_BEFORE,
            Unserved.DOWN,
            0,
            RetryLater(
                outcome(uc.RETRY, error_code="ROUTING_ERROR", carrier_error="0x0B"),
                BACKOFF,
            ),
        ),
        # Accepted: recorded with the connector and its carrier ids.
        (
            JOB,
            NEVER,
            OK,
            1,
            Accepted(
                outcome(
                    uc.ACCEPTED,
                    connector="primary",
                    carrier_ids=("c1", "c2", "c3"),
                    parts=((1, "c1"), (2, "c2"), (3, "c3")),
                )
            ),
        ),
        # Resumed: the part taken before is not counted again.
        (
            RESUMED,
            NEVER,
            OK,
            0,
            Accepted(
                outcome(
                    uc.ACCEPTED,
                    connector="primary",
                    carrier_ids=("c1", "c2", "c3"),
                    parts=((2, "c2"), (3, "c3")),
                )
            ),
        ),
        # Temporary: back-off on this connector, not the next one.
        (
            JOB,
            NEVER,
            THROTTLED,
            1,
            RetryLater(
                outcome(
                    uc.RETRY,
                    connector="primary",
                    error_code="THROTTLED",
                    carrier_error="0x58",
                ),
                BACKOFF,
            ),
        ),
        # Permanent: REJECTED.
        (
            JOB,
            NEVER,
            REFUSED,
            1,
            Fail(
                outcome(
                    uc.REJECTED,
                    connector="primary",
                    error_code="INVALID_RECIPIENT",
                    carrier_error="0x0B",
                )
            ),
        ),
        # No route at this carrier: the contingency route may have one.
        (JOB, NEVER, NO_ROUTE, 1, SubmitNext(Tried(last=NO_ROUTE))),
        (JOB, SKIPPED, NO_ROUTE, 1, SubmitNext(Tried(last=NO_ROUTE, skipped=True))),
        # ... every carrier said so: FAILED for good.
        (
            JOB,
            NEVER,
            NO_ROUTE,
            0,
            Fail(outcome(uc.FAILED, error_code="ROUTING_ERROR", carrier_error="0x0B")),
        ),
        # ... but one was down: it may have a route, retry.
        (
            JOB,
            SKIPPED,
            NO_ROUTE,
            0,
            RetryLater(
                outcome(uc.RETRY, error_code="ROUTING_ERROR", carrier_error="0x0B"),
                BACKOFF,
            ),
        ),
        # No route for the rest, but a part is with this carrier: stay with it.
        (
            JOB,
            NEVER,
            NO_ROUTE_PART_TAKEN,
            1,
            Fail(
                outcome(
                    uc.REJECTED,
                    connector="primary",
                    error_code="ROUTING_ERROR",
                    parts=((1, "c1"),),
                )
            ),
        ),
        # A connection lost mid-window: a temporary network error.
        (
            JOB,
            NEVER,
            ConnectionResetError("peer gone"),
            1,
            RetryLater(
                outcome(
                    uc.RETRY,
                    connector="primary",
                    error_code="NETWORK_ERROR",
                    carrier_error="ConnectionResetError: peer gone",
                ),
                BACKOFF,
            ),
        ),
    ],
)
def test_decide(
    job: uc.Claimed,
    tried: Tried,
    answer: policy.Answer,
    left: int,
    expected: policy.Decision,
) -> None:
    assert policy.decide(job, tried, answer, connector="primary", left=left) == expected


def test_back_off_grows_with_the_attempts_and_fail_names_its_code() -> None:
    first = policy.decide(replace(JOB, attempts=1), NEVER, THROTTLED, connector="a")
    later = policy.decide(JOB, NEVER, THROTTLED, connector="a")
    assert isinstance(first, RetryLater) and isinstance(later, RetryLater)
    assert (first.delay, later.delay) == (timedelta(seconds=10), timedelta(seconds=40))
    refused = policy.decide(JOB, NEVER, REFUSED, connector="a")
    assert isinstance(refused, Fail) and refused.code == "INVALID_RECIPIENT"


def test_exhausted_route_without_any_answer_is_not_an_attempt() -> None:
    assert policy.exhausted(JOB, SKIPPED) == RetryLater(
        outcome(uc.NOT_TRIED), uc.NO_CONNECTOR_WAIT
    )


def test_a_long_exception_text_is_cut_to_the_column() -> None:
    result = policy.as_result(RuntimeError("x" * 500))
    assert result.retry and not result.accepted
    assert result.carrier_error == ("RuntimeError: " + "x" * 500)[:100]
