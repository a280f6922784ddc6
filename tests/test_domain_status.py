"""The status lifecycle (soapsms.domain.status)."""

from __future__ import annotations

import itertools

import pytest

from soapsms import errors
from soapsms.domain import status
from soapsms.domain.status import (
    CANCELLABLE,
    CANCELLED,
    DELIVERED,
    ERROR_CODES,
    EXPIRED,
    FAILED,
    LIFECYCLE,
    QUEUED,
    REFUNDABLE_END,
    REJECTED,
    SCHEDULED,
    SUBMITTED,
    TERMINAL,
    UNDELIVERED,
    UNKNOWN,
    can_move,
    parse_status,
)

# The contract's diagram, move by move.
ALLOWED = {
    (SCHEDULED, QUEUED),
    (SCHEDULED, EXPIRED),
    (SCHEDULED, CANCELLED),
    (QUEUED, SUBMITTED),
    (QUEUED, REJECTED),
    (QUEUED, FAILED),
    (QUEUED, EXPIRED),
    (QUEUED, CANCELLED),
    (SUBMITTED, DELIVERED),
    (SUBMITTED, UNDELIVERED),
    (SUBMITTED, EXPIRED),
}


def test_sets() -> None:
    assert LIFECYCLE == {
        "SCHEDULED",
        "QUEUED",
        "SUBMITTED",
        "DELIVERED",
        "UNDELIVERED",
        "EXPIRED",
        "REJECTED",
        "FAILED",
        "CANCELLED",
    }
    assert UNKNOWN == "UNKNOWN" and UNKNOWN not in LIFECYCLE
    assert TERMINAL == {DELIVERED, UNDELIVERED, EXPIRED, REJECTED, FAILED, CANCELLED}
    assert LIFECYCLE - TERMINAL == {SCHEDULED, QUEUED, SUBMITTED}
    assert CANCELLABLE == {SCHEDULED, QUEUED}
    assert REFUNDABLE_END == {CANCELLED, REJECTED, FAILED, EXPIRED}
    assert REFUNDABLE_END <= TERMINAL


@pytest.mark.parametrize(
    ("old", "new"), list(itertools.product(sorted(LIFECYCLE | {UNKNOWN}), repeat=2))
)
def test_can_move(old: str, new: str) -> None:
    assert can_move(old, new) is ((old, new) in ALLOWED)


def test_terminal_statuses_never_move_and_moves_reach_every_status() -> None:
    for old in TERMINAL:
        assert not any(can_move(old, new) for new in LIFECYCLE)
    reached = {new for _, new in ALLOWED}
    assert reached == LIFECYCLE - {SCHEDULED}


def test_cancellable_statuses_can_be_cancelled() -> None:
    assert {old for old in LIFECYCLE if can_move(old, CANCELLED)} == CANCELLABLE


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("DELIVERED", DELIVERED),
        ("delivered", DELIVERED),
        ("Submitted", SUBMITTED),
        (" queued ", QUEUED),
        ("cancelled", CANCELLED),
    ],
)
def test_parse_status(value: str, expected: str) -> None:
    assert parse_status(value) == expected


@pytest.mark.parametrize("value", ["UNKNOWN", "", "SENT", "canceled", "DELIVRD"])
def test_parse_status_refuses_other_values(value: str) -> None:
    with pytest.raises(errors.ValidationError, match="SCHEDULED, QUEUED, SUBMITTED"):
        parse_status(value)


def test_error_codes() -> None:
    names = [
        "ABSENT_SUBSCRIBER",
        "UNKNOWN_SUBSCRIBER",
        "BLOCKED",
        "HANDSET_ERROR",
        "NETWORK_ERROR",
        "THROTTLED",
        "CONTENT_FILTERED",
        "ROUTING_ERROR",
        "CARRIER_REJECTED",
        "VALIDITY_EXPIRED",
        "UNKNOWN",
    ]
    assert ERROR_CODES == set(names)
    for name in names:
        assert getattr(status, name) == name
