"""Plain values the use cases take and return; no framework types."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime


@dataclass(frozen=True)
class Credentials:
    """One set of credentials, as one of the ways of authenticating carried it."""

    account_id: str
    password: str
    method: str  # "body", "wsse" or "basic": for logs, never the password


@dataclass(frozen=True)
class AccountView:
    account_id: str
    name: str
    disabled: bool
    credits: int | None
    default_sender: str | None
    allowed_senders: tuple[str, ...]
    allowed_networks: tuple[str, ...]
    max_recipients: int
    rate_limit_per_minute: int | None
    default_region: str | None
    callback_secret_set: bool
    version: int
    blocked_count: int = 0


@dataclass(frozen=True)
class SendRequest:
    """A SendMessage as the adapter received it; nothing normalised yet."""

    text: str
    recipients: tuple[str, ...] = ()
    recipients_text: str | None = None
    sender: str | None = None
    client_reference: str | None = None
    scheduled_for: datetime | None = None  # aware or naive-UTC
    validity_minutes: int | None = None
    encoding: str | None = None
    status_callback_url: str | None = None


@dataclass(frozen=True)
class MessageReceipt:
    message_id: str
    recipient: str
    status: str
    parts: int
    encoding: str


@dataclass(frozen=True)
class RejectedRecipient:
    recipient: str
    reason: str


@dataclass(frozen=True)
class SendResult:
    batch_id: str
    client_reference: str | None
    messages: list[MessageReceipt]
    rejected: list[RejectedRecipient]
    replayed: bool = False

    @property
    def accepted_count(self) -> int:
        return len(self.messages)

    @property
    def rejected_count(self) -> int:
        return len(self.rejected)


@dataclass(frozen=True)
class MessageStatus:
    """What GetStatus tells about one message; UNKNOWN carries only id and status."""

    message_id: str
    status: str
    batch_id: str | None = None
    client_reference: str | None = None
    recipient: str | None = None
    sender: str | None = None
    error_code: str | None = None
    error_text: str | None = None
    carrier_error: str | None = None
    parts: int | None = None
    parts_delivered: int | None = None
    created_at: datetime | None = None
    scheduled_for: datetime | None = None
    submitted_at: datetime | None = None
    done_at: datetime | None = None
    updated_at: datetime | None = None


@dataclass(frozen=True)
class Selector:
    """Which messages GetStatus or CancelMessage is about; they narrow each other."""

    message_ids: tuple[str, ...] = ()
    batch_id: str | None = None
    client_reference: str | None = None

    @property
    def empty(self) -> bool:
        return (
            not self.message_ids
            and self.batch_id is None
            and self.client_reference is None
        )


@dataclass(frozen=True)
class ListQuery:
    since: datetime | None = None
    until: datetime | None = None
    status: str | None = None
    recipient: str | None = None
    batch_id: str | None = None
    cursor: str | None = None
    limit: int | None = None


@dataclass(frozen=True)
class MessagePage:
    messages: list[MessageStatus] = field(default_factory=list)
    next_cursor: str | None = None
