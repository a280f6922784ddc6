"""Message statuses read from the store: rows become MessageStatus here, by position."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from operator import itemgetter
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, Row

from soapsms.domain.status_fields import FIELDS, MessageStatus
from soapsms.store import repository

if TYPE_CHECKING:  # store/base.py imports the query modules this one sits beside
    from soapsms.store.base import Store

Key = tuple[str, datetime]  # (message_id, created_at)


@dataclass(frozen=True)
class Cancelled:
    """A message cancelled just now."""

    message_id: str
    created_at: datetime
    charged: int


# Where the sender is among MessageStatus's fields.
_SENDER = [f.name for f in FIELDS].index("sender")


def read_statuses(
    rows: Sequence[Row[Any]], default_sender: str | None
) -> list[MessageStatus]:
    """`rows` as MessageStatus, a message without a sender told with `default_sender`.

    Values are read by position, found once from the first row's column
    names: reading Row attributes by name is slower on GetStatus's hot path
    (docs/operations.md, Performance)."""
    if not rows:
        return []
    names = rows[0]._fields
    pick = itemgetter(*(names.index(f.column) for f in FIELDS))
    found = []
    for row in rows:
        values = list(pick(row))
        if not values[_SENDER]:
            values[_SENDER] = default_sender
        found.append(MessageStatus(*values))
    return found


def status_of(row: Any, default_sender: str | None = None) -> MessageStatus:
    """One message as MessageStatus; `row` is anything with its columns as attributes
    (the dispatcher passes its own updated copies)."""
    values = {f.name: getattr(row, f.column) for f in FIELDS}
    values["sender"] = values["sender"] or default_sender
    return MessageStatus(**values)


class Statuses:
    """One account's message statuses within one transaction (`conn`)."""

    def __init__(
        self,
        conn: Connection,
        store: Store,
        account_id: str,
        default_sender: str | None,
    ) -> None:
        self.conn = conn
        self.store = store  # how its database looks messages up by key
        self.account_id = account_id
        self.default_sender = default_sender

    def _read(self, rows: Sequence[Row[Any]]) -> list[MessageStatus]:
        return read_statuses(rows, self.default_sender)

    def by_ids(self, keys: Sequence[Key]) -> list[MessageStatus]:
        """The account's messages among `keys`, in any order."""
        return self._read(self.store.messages_by_ids(self.conn, self.account_id, keys))

    def of_batch(self, batch_id: str) -> list[MessageStatus] | None:
        """The messages of the account's batch by id order; None: no such batch."""
        batch = repository.get_batch(self.conn, self.account_id, batch_id)
        if batch is None:
            return None
        return self._read(
            repository.messages_of_batch(self.conn, batch.batch_id, batch.created_at)
        )

    def batch_of_reference(self, reference: str) -> str | None:
        """The id of the account's batch sent with ClientReference `reference`."""
        batch = repository.find_batch_by_reference(
            self.conn, self.account_id, reference
        )
        return None if batch is None else str(batch.batch_id)

    def page(
        self,
        *,
        since: datetime | None,
        until: datetime | None,
        status: str | None,
        recipient: str | None,
        batch_id: str | None,
        after: tuple[datetime, str] | None,
        limit: int,
    ) -> list[MessageStatus]:
        """Newest first by (created_at, message_id), after the key `after`."""
        return self._read(
            repository.page_messages(
                self.conn,
                self.account_id,
                since=since,
                until=until,
                status=status,
                recipient=recipient,
                batch_id=batch_id,
                after=after,
                limit=limit,
            )
        )

    def cancel(
        self, keys: Sequence[Key], statuses: Iterable[str], now: datetime
    ) -> list[Cancelled]:
        """Cancel those of `keys` still in `statuses` and not leased."""
        return [
            Cancelled(r.message_id, r.created_at, r.charged)
            for r in repository.cancel_messages(self.conn, keys, statuses, now)
        ]

    def refund(self, amount: int) -> None:
        """Give the account `amount` credits back (if it counts credits)."""
        repository.refund_credits(self.conn, self.account_id, amount)

    def add_history(self, rows: list[dict[str, Any]]) -> None:
        """Status history lines (message_id, message_created_at, status, …)."""
        repository.add_history(self.conn, rows)
