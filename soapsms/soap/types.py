"""Wire types of the v1 contract, named exactly as generated proxies expect.

Spyne takes WSDL names from Python names, so the CamelCase here is the
contract's. Nothing is nillable; optional elements have minOccurs=0; lists
are wrapper types holding repeated items.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from spyne import ComplexModel, DateTime, Unicode
from spyne.model.primitive import Integer32

from soapsms.domain import status_fields

NS = "urn:soapsms:v1"

UNBOUNDED = "unbounded"


def required(cls: Any) -> Any:
    return cls.customize(min_occurs=1, nillable=False)


def optional(cls: Any) -> Any:
    return cls.customize(min_occurs=0, nillable=False)


def repeated(cls: Any) -> Any:
    return cls.customize(min_occurs=0, max_occurs=UNBOUNDED, nillable=False)


class _Model(ComplexModel):
    __namespace__ = NS


class Auth(_Model):
    _type_info = [
        ("AccountId", required(Unicode)),
        ("Password", required(Unicode)),
    ]


class RecipientList(_Model):
    _type_info = [("Recipient", repeated(Unicode))]


class OutboundMessage(_Model):
    _type_info = [
        ("Text", required(Unicode)),
        ("Recipients", optional(RecipientList)),
        ("RecipientsText", optional(Unicode)),
        ("Sender", optional(Unicode)),
        ("ClientReference", optional(Unicode)),
        ("ScheduledFor", optional(DateTime)),
        ("ValidityMinutes", optional(Integer32)),
        ("Encoding", optional(Unicode)),
        ("StatusCallbackUrl", optional(Unicode)),
    ]


class MessageReceipt(_Model):
    _type_info = [
        ("MessageId", required(Unicode)),
        ("Recipient", required(Unicode)),
        ("Status", required(Unicode)),
        ("Parts", required(Integer32)),
        ("Encoding", required(Unicode)),
    ]


class RejectedRecipient(_Model):
    _type_info = [
        ("Recipient", required(Unicode)),
        ("Reason", required(Unicode)),
    ]


class MessageReceiptList(_Model):
    _type_info = [("MessageReceipt", repeated(MessageReceipt))]


class RejectedRecipientList(_Model):
    _type_info = [("RejectedRecipient", repeated(RejectedRecipient))]


class SendMessageResult(_Model):
    _type_info = [
        ("BatchId", required(Unicode)),
        ("ClientReference", optional(Unicode)),
        ("AcceptedCount", required(Integer32)),
        ("RejectedCount", required(Integer32)),
        ("Messages", required(MessageReceiptList)),
        ("Rejected", required(RejectedRecipientList)),
    ]


_KINDS: dict[type, Any] = {str: Unicode, int: Integer32, datetime: DateTime}


# The contract's MessageStatus: one element per declared status field.
MessageStatus: Any = _Model.__class__(
    "MessageStatus",
    (_Model,),
    {
        "__module__": __name__,
        "_type_info": [
            (f.wire, (required if f.required else optional)(_KINDS[f.kind]))
            for f in status_fields.FIELDS
        ],
    },
)


class MessageStatusList(_Model):
    _type_info = [("MessageStatus", repeated(MessageStatus))]


class MessageIdList(_Model):
    _type_info = [("MessageId", repeated(Unicode))]


class MessagePage(_Model):
    _type_info = [
        ("Messages", required(MessageStatusList)),
        ("NextCursor", optional(Unicode)),
    ]


class AccountInfo(_Model):
    _type_info = [
        ("AccountId", required(Unicode)),
        ("Name", required(Unicode)),
        ("Credits", optional(Integer32)),
        ("DefaultSender", optional(Unicode)),
        ("MaxRecipientsPerRequest", required(Integer32)),
        ("RateLimitPerMinute", optional(Integer32)),
    ]
