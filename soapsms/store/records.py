"""What the store's reads hand to use cases: plain frozen records, not rows."""

from __future__ import annotations

from dataclasses import dataclass, fields
from datetime import datetime
from typing import Any


@dataclass(frozen=True)
class AccountRecord:
    """An account's row."""

    account_id: str
    name: str
    password_hash: str
    disabled: bool
    credits: int | None
    default_sender: str | None
    allowed_senders: str  # JSON list
    allowed_networks: str  # JSON list
    max_recipients: int
    rate_limit_per_minute: int | None
    default_region: str | None
    callback_secret: str | None
    version: int
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True)
class MessageContent:
    """What resending a message needs of it."""

    message_id: str
    status: str
    recipient: str
    text: str
    sender: str | None
    encoding: str
    validity_minutes: int


ACCOUNT_COLUMNS = tuple(f.name for f in fields(AccountRecord))
MESSAGE_CONTENT_COLUMNS = tuple(f.name for f in fields(MessageContent))


def account(row: Any) -> AccountRecord:
    """An accounts row (every column) as its record."""
    return AccountRecord(*(getattr(row, name) for name in ACCOUNT_COLUMNS))
