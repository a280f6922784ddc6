"""Hand-written serialisers for the large answers.

Spyne's generic serialiser took longer to write a bulk SendMessage's receipts
than to store them (docs/performance.md, SOAP fast path). These functions
write the same XML (tests compare them with Spyne's output for the same
objects and validate them against the WSDL's schema) straight to text.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from soapsms.domain import status_fields
from soapsms.usecases.results import MessagePage, MessageStatus, SendResult


@dataclass(frozen=True)
class Rendered:
    """An operation's response body element, already written."""

    xml: str


_esc = status_fields.escape


def _opt(name: str, value: str | None) -> str:
    return "" if value is None else f"<tns:{name}>{_esc(value)}</tns:{name}>"


def _wrap(name: str, inner: str) -> str:
    return f"<tns:{name}>{inner}</tns:{name}>" if inner else f"<tns:{name}/>"


def send_result(operation: str, result: SendResult) -> Rendered:
    receipts = "".join(
        f"<tns:MessageReceipt><tns:MessageId>{m.message_id}</tns:MessageId>"
        f"<tns:Recipient>{_esc(m.recipient)}</tns:Recipient>"
        f"<tns:Status>{m.status}</tns:Status><tns:Parts>{m.parts}</tns:Parts>"
        f"<tns:Encoding>{m.encoding}</tns:Encoding></tns:MessageReceipt>"
        for m in result.messages
    )
    rejected = "".join(
        f"<tns:RejectedRecipient><tns:Recipient>{_esc(x.recipient)}</tns:Recipient>"
        f"<tns:Reason>{x.reason}</tns:Reason></tns:RejectedRecipient>"
        for x in result.rejected
    )
    inner = (
        f"<tns:BatchId>{result.batch_id}</tns:BatchId>"
        + _opt("ClientReference", result.client_reference)
        + f"<tns:AcceptedCount>{result.accepted_count}</tns:AcceptedCount>"
        f"<tns:RejectedCount>{result.rejected_count}</tns:RejectedCount>"
        + _wrap("Messages", receipts)
        + _wrap("Rejected", rejected)
    )
    return _response(operation, _wrap(f"{operation}Result", inner))


# The contract's MessageStatus element, written from the status-field declaration.
_status = status_fields.xml_writer("tns:")


def _statuses(items: Iterable[MessageStatus]) -> str:
    return "".join(_status(m) for m in items)


def status_list(operation: str, items: list[MessageStatus]) -> Rendered:
    return _response(operation, _wrap(f"{operation}Result", _statuses(items)))


def message_page(operation: str, page: MessagePage) -> Rendered:
    inner = _wrap("Messages", _statuses(page.messages)) + _opt(
        "NextCursor", page.next_cursor
    )
    return _response(operation, _wrap(f"{operation}Result", inner))


def _response(operation: str, result: str) -> Rendered:
    return Rendered(f"<tns:{operation}Response>{result}</tns:{operation}Response>")


def envelope(rendered: Rendered, env_prefix: str, env_ns: str, tns: str) -> bytes:
    """The whole response document, as Spyne would frame it."""
    return (
        "<?xml version='1.0' encoding='UTF-8'?>\n"
        f'<{env_prefix}:Envelope xmlns:{env_prefix}="{env_ns}" xmlns:tns="{tns}">'
        f"<{env_prefix}:Body>{rendered.xml}</{env_prefix}:Body></{env_prefix}:Envelope>"
    ).encode()
