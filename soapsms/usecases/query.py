"""GetStatus, ListMessages, CancelMessage and GetAccount."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging
from datetime import datetime
from typing import Any

from soapsms import metrics
from soapsms.domain import phone, status
from soapsms.domain.ids import id_time
from soapsms.errors import ValidationError
from soapsms.store import repository, statuses
from soapsms.store.db import transaction
from soapsms.store.statuses import Statuses
from soapsms.usecases.auth import account_view
from soapsms.usecases.requests import ListQuery, Selector
from soapsms.usecases.results import AccountView, MessagePage, MessageStatus
from soapsms.usecases.runtime import Runtime
from soapsms.usecases.send import to_utc

logger = logging.getLogger(__name__)

MAX_IDS = 1000
MAX_LIMIT = 1000
DEFAULT_LIMIT = 100


def status_of(row: Any, default_sender: str | None = None) -> MessageStatus:
    """One message as MessageStatus; `row` is anything with its columns as
    attributes (the dispatcher passes its own updated copies)."""
    return statuses.status_of(row, default_sender)


def _unknown(message_id: str) -> MessageStatus:
    return MessageStatus(message_id=message_id, status=status.UNKNOWN)


def _select(
    reads: Statuses, selector: Selector
) -> tuple[list[str] | None, list[MessageStatus]]:
    """The messages a selector names: (requested ids in order or None, found)."""
    if selector.empty:
        raise ValidationError("give MessageIds, BatchId or ClientReference")
    ids = list(dict.fromkeys(i.strip() for i in selector.message_ids if i.strip()))
    if len(ids) > MAX_IDS:
        raise ValidationError(f"at most {MAX_IDS} MessageIds per call")
    batch_id = selector.batch_id
    if selector.client_reference is not None:
        found = reads.batch_of_reference(selector.client_reference)
        if found is None or (batch_id is not None and found != batch_id):
            return (ids or None), []
        batch_id = found
    if ids:
        keys = [(i.upper(), t) for i in ids if (t := id_time(i)) is not None]
        messages = reads.by_ids(keys)
        if batch_id is not None:
            messages = [m for m in messages if m.batch_id == batch_id]
        return ids, messages
    assert batch_id is not None
    return None, reads.of_batch(batch_id.strip().upper()) or []


def _answer(ids: list[str] | None, found: list[MessageStatus]) -> list[MessageStatus]:
    if ids is None:
        return found
    by_id = {m.message_id: m for m in found}
    return [by_id.get(i.upper()) or _unknown(i) for i in ids]


def get_status(
    rt: Runtime, account: AccountView, selector: Selector
) -> list[MessageStatus]:
    with transaction(rt.engine) as conn:
        reads = Statuses(conn, rt.store, account.account_id, account.default_sender)
        ids, found = _select(reads, selector)
    return _answer(ids, found)


def _keys(found: list[MessageStatus]) -> list[tuple[str, datetime]]:
    return [(m.message_id, m.created_at) for m in found if m.created_at is not None]


def cancel_messages(
    rt: Runtime, account: AccountView, selector: Selector
) -> list[MessageStatus]:
    """Cancel what is still SCHEDULED or QUEUED and not leased; list all CANCELLED."""
    now = rt.now()
    with transaction(rt.engine, write=True) as conn:
        reads = Statuses(conn, rt.store, account.account_id, account.default_sender)
        ids, found = _select(reads, selector)
        candidates = _keys([m for m in found if m.status in status.CANCELLABLE])
        cancelled = reads.cancel(candidates, status.CANCELLABLE, now)
        if cancelled:
            reads.refund(sum(c.charged for c in cancelled))
            reads.add_history(
                [
                    {
                        "message_id": c.message_id,
                        "message_created_at": c.created_at,
                        "status": status.CANCELLED,
                        "occurred_at": now,
                        "detail": "cancelled by the customer",
                    }
                    for c in cancelled
                ]
            )
            done = {c.message_id for c in cancelled}
            before = {m.message_id: m.status for m in found}
            for message_id in sorted(done):
                logger.info(
                    "status change message=%s old=%s new=%s code=-",
                    message_id,
                    before.get(message_id, "-"),
                    status.CANCELLED,
                )
            metrics.get().status_changes.labels(status.CANCELLED).inc(len(done))
            found = reads.by_ids(_keys(found))
            found.sort(key=lambda m: m.message_id)
            logger.info("cancelled %d messages for %s", len(done), account.account_id)
    answered = _answer(ids, found)
    return [m for m in answered if m.status == status.CANCELLED]


def get_account(rt: Runtime, account: AccountView) -> AccountView:
    with transaction(rt.engine) as conn:
        row = repository.get_account(conn, account.account_id)
    return account_view(row) if row is not None else account


# --- ListMessages -----------------------------------------------------------


def _filters_key(account: AccountView, query: ListQuery, recipient: str | None) -> str:
    parts = [
        account.account_id,
        query.since.isoformat() if query.since else "",
        query.until.isoformat() if query.until else "",
        query.status or "",
        recipient or "",
        query.batch_id or "",
    ]
    return hashlib.sha256("\0".join(parts).encode()).hexdigest()[:16]


def _sign(rt: Runtime, payload: bytes) -> bytes:
    return hmac.digest(rt.secret(), payload, hashlib.sha256)[:16]


def _encode_cursor(rt: Runtime, filters: str, last: MessageStatus) -> str:
    assert last.created_at is not None  # every stored message has one
    payload = json.dumps(
        [filters, last.created_at.isoformat(), last.message_id], separators=(",", ":")
    ).encode()
    return base64.urlsafe_b64encode(payload + _sign(rt, payload)).decode().rstrip("=")


def _decode_cursor(rt: Runtime, cursor: str, filters: str) -> tuple[datetime, str]:
    invalid = ValidationError("Cursor is not valid for this query")
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        payload, signature = raw[:-16], raw[-16:]
        if not hmac.compare_digest(signature, _sign(rt, payload)):
            raise invalid
        key, created_at, message_id = json.loads(payload)
    except (ValueError, TypeError) as exc:
        raise invalid from exc
    if key != filters:
        raise invalid
    return datetime.fromisoformat(created_at), message_id


def list_messages(rt: Runtime, account: AccountView, query: ListQuery) -> MessagePage:
    limit = DEFAULT_LIMIT if query.limit is None else query.limit
    if not 1 <= limit <= MAX_LIMIT:
        raise ValidationError(f"Limit must be 1 to {MAX_LIMIT}")
    wanted_status = (
        status.parse_status(query.status) if query.status is not None else None
    )
    recipient = None
    if query.recipient is not None:
        recipient = phone.normalize(query.recipient, account.default_region)
        if recipient is None:
            raise ValidationError(
                f"Recipient {query.recipient!r} is not a valid number"
            )
    query = ListQuery(
        since=to_utc(query.since) if query.since else None,
        until=to_utc(query.until) if query.until else None,
        status=wanted_status,
        recipient=query.recipient,
        batch_id=query.batch_id.strip().upper() if query.batch_id else None,
        cursor=query.cursor,
        limit=limit,
    )
    filters = _filters_key(account, query, recipient)
    after = _decode_cursor(rt, query.cursor, filters) if query.cursor else None
    with transaction(rt.engine) as conn:
        reads = Statuses(conn, rt.store, account.account_id, account.default_sender)
        found = reads.page(
            since=query.since,
            until=query.until,
            status=wanted_status,
            recipient=recipient,
            batch_id=query.batch_id,
            after=after,
            limit=limit + 1,
        )
    more = len(found) > limit
    found = found[:limit]
    return MessagePage(
        messages=found,
        next_cursor=_encode_cursor(rt, filters, found[-1]) if more else None,
    )
