"""Plain values the use cases return; no framework types (what they take:
soapsms.usecases.requests)."""

from __future__ import annotations

from dataclasses import dataclass, field

# The status result is the status-field declaration itself (pages iterate it).
from soapsms.domain.status_fields import MessageStatus as MessageStatus


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
class MessagePage:
    messages: list[MessageStatus] = field(default_factory=list)
    next_cursor: str | None = None
