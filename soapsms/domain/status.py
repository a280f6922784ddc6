"""The message status lifecycle and the reason codes of failed messages."""

from __future__ import annotations

from typing import Final

from soapsms import errors

SCHEDULED: Final = "SCHEDULED"
QUEUED: Final = "QUEUED"
SUBMITTED: Final = "SUBMITTED"
DELIVERED: Final = "DELIVERED"
UNDELIVERED: Final = "UNDELIVERED"
EXPIRED: Final = "EXPIRED"
REJECTED: Final = "REJECTED"
FAILED: Final = "FAILED"
CANCELLED: Final = "CANCELLED"
# Not a state a message is ever in: the answer about an id the caller does not
# own or that does not exist. Also the ErrorCode for unexplained failures.
UNKNOWN: Final = "UNKNOWN"

# In lifecycle order, for messages that list them.
_ORDER: Final = (
    SCHEDULED,
    QUEUED,
    SUBMITTED,
    DELIVERED,
    UNDELIVERED,
    EXPIRED,
    REJECTED,
    FAILED,
    CANCELLED,
)
LIFECYCLE: Final = frozenset(_ORDER)
TERMINAL: Final = frozenset(
    {DELIVERED, UNDELIVERED, EXPIRED, REJECTED, FAILED, CANCELLED}
)
CANCELLABLE: Final = frozenset({SCHEDULED, QUEUED})
# Statuses whose parts are refunded when reached without a submission.
REFUNDABLE_END: Final = frozenset({CANCELLED, REJECTED, FAILED, EXPIRED})

_MOVES: Final[dict[str, frozenset[str]]] = {
    SCHEDULED: frozenset({QUEUED, EXPIRED, CANCELLED}),
    QUEUED: frozenset({SUBMITTED, REJECTED, FAILED, EXPIRED, CANCELLED}),
    SUBMITTED: frozenset({DELIVERED, UNDELIVERED, EXPIRED}),
}

# ErrorCode values: why a message did not make it.
ABSENT_SUBSCRIBER: Final = "ABSENT_SUBSCRIBER"
UNKNOWN_SUBSCRIBER: Final = "UNKNOWN_SUBSCRIBER"
BLOCKED: Final = "BLOCKED"
HANDSET_ERROR: Final = "HANDSET_ERROR"
NETWORK_ERROR: Final = "NETWORK_ERROR"
THROTTLED: Final = "THROTTLED"
CONTENT_FILTERED: Final = "CONTENT_FILTERED"
ROUTING_ERROR: Final = "ROUTING_ERROR"
CARRIER_REJECTED: Final = "CARRIER_REJECTED"
VALIDITY_EXPIRED: Final = "VALIDITY_EXPIRED"
ERROR_CODES: Final = frozenset(
    {
        ABSENT_SUBSCRIBER,
        UNKNOWN_SUBSCRIBER,
        BLOCKED,
        HANDSET_ERROR,
        NETWORK_ERROR,
        THROTTLED,
        CONTENT_FILTERED,
        ROUTING_ERROR,
        CARRIER_REJECTED,
        VALIDITY_EXPIRED,
        UNKNOWN,
    }
)


def can_move(old: str, new: str) -> bool:
    """Whether a message in status `old` may move to `new`.

    Moves only go forward along the lifecycle; staying in the same status is
    not a move, and a terminal status never changes.
    """
    return new in _MOVES.get(old, frozenset())


def parse_status(value: str) -> str:
    """The lifecycle status named by `value`, in any case; else ValidationError."""
    status = value.strip().upper()
    if status not in LIFECYCLE:
        raise errors.ValidationError(
            f"Status must be one of {', '.join(_ORDER)}, not {value!r}"
        )
    return status
