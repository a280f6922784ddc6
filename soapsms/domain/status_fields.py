"""The status fields, declared once: what is told about a message, one line each.

`MessageStatus` below is the declaration. Each field says its wire element
(in the contract's order), the `messages` column it is read from (its own
name unless given) and its place among `soapsms report`'s columns (none: not
reported). The SOAP wire type, the SOAP writer, the callback document, the
store's reads, the callback outbox and the reports derive from it, so a new
field is one line here plus a migration adding its column.
"""

from __future__ import annotations

import types
from collections.abc import Callable
from dataclasses import MISSING, dataclass, field, fields
from datetime import datetime
from typing import Any, get_type_hints

from soapsms.domain.timestamps import format_utc

_KEY = "status_field"


@dataclass(frozen=True)
class _Told:
    wire: str
    column: str | None
    report: int | None


def told(wire: str, *, column: str | None = None, report: int | None = None) -> Any:
    """A field every message may lack (None: not told)."""
    return field(default=None, metadata={_KEY: _Told(wire, column, report)})


def always(wire: str, *, report: int | None = None) -> Any:
    """A field every answer carries, even UNKNOWN's."""
    return field(metadata={_KEY: _Told(wire, None, report)})


@dataclass(frozen=True)
class MessageStatus:
    """What GetStatus tells about one message; UNKNOWN carries only id and status."""

    message_id: str = always("MessageId", report=1)
    status: str = always("Status", report=6)
    batch_id: str | None = told("BatchId", report=2)
    client_reference: str | None = told("ClientReference", report=3)
    recipient: str | None = told("Recipient", report=4)
    sender: str | None = told("Sender", report=5)
    error_code: str | None = told("ErrorCode", report=7)
    error_text: str | None = told("ErrorText")
    carrier_error: str | None = told("CarrierError")
    parts: int | None = told("Parts", report=8)
    parts_delivered: int | None = told("PartsDelivered", report=9)
    created_at: datetime | None = told("CreatedAt", report=11)
    scheduled_for: datetime | None = told("ScheduledFor")
    submitted_at: datetime | None = told("SubmittedAt", report=12)
    done_at: datetime | None = told("DoneAt", report=13)
    updated_at: datetime | None = told("UpdatedAt")


# Report columns that are not status fields: (name, column, place among them).
REPORT_EXTRAS: tuple[tuple[str, str, int], ...] = (("credits", "charged", 10),)


@dataclass(frozen=True)
class StatusField:
    """One status field as its readers and writers see it."""

    name: str  # the attribute of MessageStatus
    wire: str  # the element name in the contract
    kind: type  # str, int or datetime
    required: bool  # always present (MessageId, Status)
    column: str  # the messages column it is read from
    report: int | None  # place among the report's columns; None: not reported


def _kind(hint: Any) -> type:
    if isinstance(hint, types.UnionType):
        (kind,) = (a for a in hint.__args__ if a is not type(None))
        return kind  # type: ignore[no-any-return]
    return hint  # type: ignore[no-any-return]


def _declared() -> tuple[StatusField, ...]:
    hints = get_type_hints(MessageStatus)
    found = []
    for f in fields(MessageStatus):
        spec: _Told = f.metadata[_KEY]
        found.append(
            StatusField(
                name=f.name,
                wire=spec.wire,
                kind=_kind(hints[f.name]),
                required=f.default is MISSING,
                column=spec.column or f.name,
                report=spec.report,
            )
        )
    return tuple(found)


# MessageStatus's fields, in the contract's order.
FIELDS = _declared()


def _reported() -> tuple[tuple[str, str, type], ...]:
    ranked = [(f.report, f.name, f.column, f.kind) for f in FIELDS if f.report]
    ranked += [(rank, name, column, int) for name, column, rank in REPORT_EXTRAS]
    return tuple((name, column, kind) for _, name, column, kind in sorted(ranked))


# `soapsms report`'s columns in order: (name, messages column, kind).
REPORT_COLUMNS = _reported()


_ESCAPES = str.maketrans({"&": "&amp;", "<": "&lt;", ">": "&gt;"})


def escape(value: str) -> str:
    """Text as XML element content."""
    return value.translate(_ESCAPES)


_WRITE: dict[type, Callable[[Any], str]] = {str: escape, int: str, datetime: format_utc}


def xml_writer(prefix: str) -> Callable[[MessageStatus], str]:
    """Writes a status as the contract's `MessageStatus` element, its children
    in order, absent ones left out; `prefix` is the namespace prefix with its
    colon ("tns:" in SOAP answers, "" in callback documents)."""
    # One expression, as written by hand: a loop over the fields is slower
    # on GetStatus's hot path (docs/operations.md, Performance).
    env: dict[str, Any] = {}
    parts = [repr(f"<{prefix}MessageStatus>")]
    for i, f in enumerate(FIELDS):
        env[f"w{i}"] = _WRITE[f.kind]
        start, end = repr(f"<{prefix}{f.wire}>"), repr(f"</{prefix}{f.wire}>")
        parts.append(
            f"('' if (v := m.{f.name}) is None else {start} + w{i}(v) + {end})"
        )
    parts.append(repr(f"</{prefix}MessageStatus>"))
    exec("def write(m):\n    return (" + "\n        + ".join(parts) + ")", env)
    write: Callable[[MessageStatus], str] = env["write"]
    return write


def from_json(values: dict[str, Any]) -> MessageStatus:
    """A status from its JSON object (datetimes as ISO text), as the callback
    outbox keeps it; fields the object lacks are None."""
    for f in FIELDS:
        if f.kind is datetime and values.get(f.name):
            values[f.name] = datetime.fromisoformat(values[f.name])
    return MessageStatus(**values)
