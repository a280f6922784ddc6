"""What every status change also writes: history, callback events, refunds."""

from __future__ import annotations

import json
import logging
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta
from typing import Any

from soapsms import metrics
from soapsms.domain import status
from soapsms.domain.ids import new_id
from soapsms.store import dispatch_queries as q
from soapsms.store import repository
from soapsms.store.db import Transaction
from soapsms.usecases.query import status_of

logger = logging.getLogger(__name__)

# The contract: callbacks are retried for 24 hours.
CALLBACK_RETRY_PERIOD = timedelta(hours=24)


def payload(row: Any, default_sender: str | None) -> str:
    """A message's MessageStatus as JSON, for the callback outbox."""
    values = asdict(status_of(row, default_sender))
    return json.dumps(
        {k: v.isoformat() if isinstance(v, datetime) else v for k, v in values.items()},
        separators=(",", ":"),
    )


@dataclass
class Changes:
    """The side effects of one transaction's status changes, written together."""

    now: datetime
    history: list[dict[str, Any]] = field(default_factory=list)
    callbacks: list[dict[str, Any]] = field(default_factory=list)
    refunds: dict[str, int] = field(default_factory=dict)
    # (message id, old status or "-" when the caller cannot tell, new, code)
    moves: list[tuple[str, str, str, str]] = field(default_factory=list)
    _senders: dict[str, str | None] = field(default_factory=dict)

    def note(
        self,
        row: Any,
        detail: str | None = None,
        *,
        changed: bool = True,
        previous: str | None = None,
    ) -> None:
        """History for `row` (the message after the change); a callback event
        when its status changed and it has a StatusCallbackUrl. `previous` is
        the status it left, for the log line."""
        if changed:
            self.moves.append(
                (row.message_id, previous or "-", row.status, row.error_code or "-")
            )
        self.history.append(
            {
                "message_id": row.message_id,
                "message_created_at": row.created_at,
                "status": row.status,
                "occurred_at": self.now,
                "error_code": row.error_code,
                "carrier_error": row.carrier_error,
                "detail": detail[:500] if detail else None,
            }
        )
        if changed and row.status_callback_url:
            self.callbacks.append(
                {
                    "event_id": new_id(self.now),
                    "message_id": row.message_id,
                    "message_created_at": row.created_at,
                    "account_id": row.account_id,
                    "url": row.status_callback_url,
                    "payload": row,  # rendered in flush, once senders are known
                    "occurred_at": self.now,
                    "state": "pending",
                    "attempts": 0,
                    "next_attempt_at": self.now,
                    "give_up_at": self.now + CALLBACK_RETRY_PERIOD,
                }
            )

    def refund_if_unsent(self, row: Any) -> None:
        """Give back the credits of a message that ended without a submission.

        Terminal statuses never change, so this happens at most once a message.
        """
        if row.status in status.REFUNDABLE_END and row.submitted_at is None:
            if row.charged:
                self.refunds[row.account_id] = (
                    self.refunds.get(row.account_id, 0) + row.charged
                )

    def flush(self, conn: Transaction) -> None:
        for event in self.callbacks:
            account_id = event["account_id"]
            if account_id not in self._senders:
                account = repository.get_account(conn, account_id)
                self._senders[account_id] = (
                    account.default_sender if account is not None else None
                )
            event["payload"] = payload(event["payload"], self._senders[account_id])
        repository.add_history(conn, self.history)
        q.add_callbacks(conn, self.callbacks)
        for account_id, amount in self.refunds.items():
            repository.refund_credits(conn, account_id, amount)
        counters = metrics.get()
        for message_id, old, new, code in self.moves:
            # One line per change: ids and codes only, never the text.
            logger.info(
                "status change message=%s old=%s new=%s code=%s",
                message_id,
                old,
                new,
                code,
            )
            counters.status_changes.labels(new).inc()
        self.history, self.callbacks, self.refunds = [], [], {}
        self.moves = []
