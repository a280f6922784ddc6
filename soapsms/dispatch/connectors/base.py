"""The one small interface every carrier connector implements.

A connector turns a `Submission` into a carrier's transmission confirmation
(or refusal) and reports delivery receipts and inbound messages through the
`Sink` it was given. It knows its carrier's codes and maps them to the
contract's reason codes (`soapsms.domain.status`); nothing above it sees
SMPP command_status values except as the opaque `carrier_error` text.

A connector that cannot take a submission raises `errors.ConnectorDown`
(drawn in soapsms.errors' tree): the dispatcher fails over.

Per-message outcomes are not exceptions: they are `SubmitResult`s.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from concurrent.futures import Future
from dataclasses import dataclass, field
from datetime import datetime
from types import MappingProxyType
from typing import Protocol

# Called once what a carrier delivered is durably recorded (True) or could not
# be (False): only then does the connector answer the carrier (deliver_sm_resp),
# so a crash before the commit leaves the carrier to deliver it again.
Ack = Callable[[bool], None]


@dataclass(frozen=True)
class Submission:
    """One message to hand to a carrier, already split into parts by our encoder."""

    message_id: str
    recipient: str  # E.164, with the +
    sender: str | None
    encoding: str  # "GSM7" or "UCS2"
    segments: tuple[str, ...]  # the text of each part (domain.encoding.plan)
    expires_at: datetime  # naive UTC: validity passed to the carrier
    want_receipt: bool = True
    # A multipart message some of whose parts an earlier attempt got accepted:
    # those parts (number from 1 -> carrier id) are not sent again.
    done: Mapping[int, str] = field(default_factory=lambda: MappingProxyType({}))


@dataclass(frozen=True)
class SubmitResult:
    """The carrier's answer for a whole message (all its parts).

    accepted: every part was accepted; `carrier_ids` holds one id per part,
    in part order. Otherwise `retry` says whether the failure is temporary
    (throttled, connection lost: try again later or on another route) or
    permanent (REJECTED), with the contract's `error_code` and the carrier's
    raw `carrier_error` (e.g. "command_status=0x0000000B").

    `parts` holds (part number, carrier id) of the parts this attempt got
    accepted, also when the message as a whole was not, so that a retry sends
    only the others.
    """

    accepted: bool
    carrier_ids: tuple[str, ...] = ()
    retry: bool = False
    error_code: str | None = None
    carrier_error: str | None = None
    error_text: str | None = None
    parts: tuple[tuple[int, str], ...] = ()


@dataclass(frozen=True)
class Receipt:
    """A delivery receipt for one part, as the carrier reported it."""

    connector: str  # the reporting connector's name (carrier ids are per route)
    carrier_id: str  # normalised as the route says (hex/decimal), see the connector
    stat: str  # DELIVRD, UNDELIV, REJECTD, EXPIRED, DELETED, ACCEPTD, ENROUTE, UNKNOWN
    err: str | None = None
    done_at: datetime | None = None  # naive UTC
    raw: str | None = None  # the receipt text, kept for the history
    # The contract's reason code for an UNDELIV `err`, where the route maps
    # it (e.g. ABSENT_SUBSCRIBER); None: the receipt table's default, UNKNOWN.
    error_code: str | None = None


@dataclass(frozen=True)
class Inbound:
    """A mobile-originated message (deliver_sm that is not a receipt)."""

    connector: str
    sender: str
    recipient: str
    text: str
    received_at: datetime
    extra: dict[str, str] = field(default_factory=dict)


class BindSlot(Protocol):
    """One of a route's cluster-wide bind slots (`max_binds`), held by its bind."""

    def release(self) -> None: ...


# Takes a bind slot, given what to do if it is lost; None: do not bind now.
BindGate = Callable[[Callable[[], None]], BindSlot | None]


class Sink(Protocol):
    """Where a connector reports what arrives from the carrier. Called from the
    connector's own threads; implementations must be thread-safe and quick
    (queue it; the dispatcher records it, then calls `ack`)."""

    def receipt(self, receipt: Receipt, ack: Ack | None = None) -> None: ...

    def inbound(self, message: Inbound, ack: Ack | None = None) -> None: ...


class Connector(Protocol):
    """A carrier route. Implementations live in `connectors/<type>.py`."""

    name: str

    def start(self, sink: Sink) -> None:
        """Connect (and keep reconnecting with back-off) in the background."""

    def submit(self, submission: Submission) -> Future[SubmitResult]:
        """Hand one message over; the future completes with the carrier's answer.

        Applies the connector's own window and per-second limit (it may block
        the caller while the window is full). Raises ConnectorDown at once
        when the route is not bound, so the dispatcher can fail over.
        """
        ...

    def is_up(self) -> bool:
        """Bound and accepting submissions."""
        ...

    def stop(self) -> None:
        """Finish or abandon in-flight work and disconnect."""
