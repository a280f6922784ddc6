"""Plain values the use cases take, as the adapters received them; no framework
types (what they return: soapsms.usecases.results)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True)
class Credentials:
    """One set of credentials, as one of the ways of authenticating carried it."""

    account_id: str
    password: str
    method: str  # "body", "wsse" or "basic": for logs, never the password
    # A WS-Security UsernameToken's Created (naive UTC) and Nonce, if sent.
    created: datetime | None = None
    nonce: str | None = None


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
    # All or nothing: any recipient rejected (other than a repeated number)
    # fails the whole send, for protocols that answer a send with one code.
    all_or_nothing: bool = False


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
