"""SendMessage: validate, normalise, charge and store a batch in one transaction."""

from __future__ import annotations

import functools
import hashlib
import ipaddress
import json
import logging
from collections.abc import Callable
from dataclasses import dataclass, fields
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Connection
from sqlalchemy.exc import IntegrityError

from soapsms import metrics
from soapsms.domain import callback_target, encoding, phone, status
from soapsms.domain.ids import new_ids
from soapsms.domain.sender import validate_sender
from soapsms.errors import (
    DuplicateReference,
    InsufficientCredit,
    InvalidRecipient,
    InvalidSender,
    RateLimited,
    StaleAccount,
    TooManyRecipients,
    ValidationError,
)
from soapsms.store import group_commit, repository
from soapsms.store.db import is_sqlite, single_statement, transaction
from soapsms.usecases.results import (
    AccountView,
    MessageReceipt,
    RejectedRecipient,
    SendRequest,
    SendResult,
)
from soapsms.usecases.runtime import Runtime

logger = logging.getLogger(__name__)

MAX_PARTS = 10
MAX_SCHEDULE_AHEAD = timedelta(days=365)
MAX_VALIDITY_MINUTES = 10080
RATE_WINDOW = timedelta(seconds=60)

INVALID_NUMBER = "INVALID_NUMBER"
DUPLICATE = "DUPLICATE"
BLOCKED = "BLOCKED"
NO_ROUTE = "NO_ROUTE"


def to_utc(value: datetime) -> datetime:
    """Naive UTC; a time without a zone is already UTC."""
    if value.tzinfo is not None:
        value = value.astimezone(UTC).replace(tzinfo=None)
    return value


@dataclass(frozen=True)
class _Checked:
    """A request after every check that needs no store."""

    text: str
    encoding: str
    parts: int
    sender: str | None
    scheduled_for: datetime | None  # as asked, UTC; None when absent
    validity_minutes: int
    callback_url: str | None
    entries: list[str]  # the recipients as given
    normalized: list[str | None]  # E.164, or None when not a number


@dataclass(frozen=True)
class _Prepared(_Checked):
    """A request after every check that needs no write."""

    accepted: list[str]
    rejected: list[RejectedRecipient]
    content_hash: str


def _entries(request: SendRequest, account: AccountView) -> list[str]:
    entries = [r.strip() for r in request.recipients if r and r.strip()]
    if request.recipients_text:
        entries.extend(phone.split_recipients_text(request.recipients_text))
    if len(entries) > account.max_recipients:
        raise TooManyRecipients(
            f"{len(entries)} recipients given; this account may send to at most "
            f"{account.max_recipients} per request",
            given=len(entries),
            limit=account.max_recipients,
        )
    if not entries:
        raise ValidationError("at least one recipient is required")
    return entries


def _sender(request: SendRequest, account: AccountView) -> str | None:
    if request.sender is None:
        return account.default_sender
    sender = validate_sender(request.sender)
    if account.allowed_senders and sender not in account.allowed_senders:
        raise InvalidSender(f"sender {sender!r} is not allowed for this account")
    return sender


def _callback_url(url: str | None, allow_private: bool) -> str | None:
    if url is None:
        return None
    parts = callback_target.split_http_url(url)
    if parts is None or parts.hostname is None:
        raise ValidationError("StatusCallbackUrl must be an http or https URL")
    if not allow_private:
        host = parts.hostname
        if callback_target.is_local_name(host):
            raise ValidationError(
                "StatusCallbackUrl may not point at a loopback address"
            )
        try:
            address = ipaddress.ip_address(host)
        except ValueError:
            address = None
        # Names are checked again after DNS, when the callback is sent.
        if address is not None and not callback_target.is_public(address):
            raise ValidationError(
                "StatusCallbackUrl may not point at a loopback, private or "
                "link-local address"
            )
    return url.strip()


def _classify(
    entries: list[str],
    account: AccountView,
    blocked: set[str],
    normalized: list[str | None],
    has_route: Callable[[str], bool] = lambda number: True,
) -> tuple[list[str], list[RejectedRecipient]]:
    accepted: list[str] = []
    rejected: list[RejectedRecipient] = []
    seen: set[str] = set()
    for raw, number in zip(entries, normalized, strict=True):
        if number is None:
            rejected.append(RejectedRecipient(raw, INVALID_NUMBER))
        elif number in seen:
            rejected.append(RejectedRecipient(raw, DUPLICATE))
        elif number in blocked:
            rejected.append(RejectedRecipient(raw, BLOCKED))
        elif not has_route(number):
            rejected.append(RejectedRecipient(raw, NO_ROUTE))
        else:
            seen.add(number)
            accepted.append(number)
    return accepted, rejected


def _check(rt: Runtime, account: AccountView, request: SendRequest) -> _Checked:
    if (
        request.client_reference is not None
        and not 1 <= len(request.client_reference) <= 255
    ):
        raise ValidationError("ClientReference must be 1 to 255 characters")
    if not request.text:
        raise ValidationError("Text must not be empty")
    entries = _entries(request, account)
    plan = encoding.plan(request.text, request.encoding or "Auto", max_parts=MAX_PARTS)
    sender = _sender(request, account)
    now = rt.now()
    scheduled = to_utc(request.scheduled_for) if request.scheduled_for else None
    if scheduled is not None and scheduled > now + MAX_SCHEDULE_AHEAD:
        raise ValidationError("ScheduledFor may be at most 365 days ahead")
    validity = request.validity_minutes
    if validity is None:
        validity = rt.settings.default_validity_minutes
    elif not 1 <= validity <= MAX_VALIDITY_MINUTES:
        raise ValidationError(f"ValidityMinutes must be 1 to {MAX_VALIDITY_MINUTES}")
    callback = _callback_url(
        request.status_callback_url, rt.settings.allow_private_callbacks
    )
    return _Checked(
        text=request.text,
        encoding=plan.encoding,
        parts=plan.parts,
        sender=sender,
        scheduled_for=scheduled,
        validity_minutes=validity,
        callback_url=callback,
        entries=entries,
        normalized=phone.normalize_many(entries, account.default_region),
    )


def _prepare(
    rt: Runtime, account: AccountView, checked: _Checked, blocked: set[str]
) -> _Prepared:
    """The recipients sorted out against the account's block list."""
    accepted, rejected = _classify(
        checked.entries, account, blocked, checked.normalized, rt.has_route
    )
    scheduled = checked.scheduled_for
    content = [
        checked.text,
        accepted,
        checked.sender,
        scheduled.isoformat() if scheduled else None,
        checked.validity_minutes,
        checked.encoding,
        checked.callback_url,
    ]
    digest = hashlib.sha256(
        json.dumps(content, ensure_ascii=False).encode()
    ).hexdigest()
    return _Prepared(
        **{f.name: getattr(checked, f.name) for f in fields(_Checked)},
        accepted=accepted,
        rejected=rejected,
        content_hash=digest,
    )


def _stored_result(conn: Connection, batch: Any) -> SendResult:
    rows = repository.messages_of_batch(conn, batch.batch_id, batch.created_at)
    receipts = [
        MessageReceipt(
            message_id=row.message_id,
            recipient=row.recipient,
            # The status the receipt had when the batch was first answered.
            status=status.SCHEDULED if row.scheduled_for is not None else status.QUEUED,
            parts=row.parts,
            encoding=row.encoding,
        )
        for row in rows
    ]
    rejected = [
        RejectedRecipient(r, reason) for r, reason in json.loads(batch.rejected)
    ]
    return SendResult(
        batch.batch_id, batch.client_reference, receipts, rejected, replayed=True
    )


def _replay(
    rt: Runtime,
    conn: Connection,
    account: AccountView,
    batch: Any,
    checked: _Checked,
    blocked: set[str],
) -> SendResult:
    prepared = _prepare(rt, account, checked, blocked)
    if prepared.content_hash != batch.content_hash:
        raise DuplicateReference(
            f"ClientReference {batch.client_reference!r} was already used for "
            "a different message",
            client_reference=batch.client_reference,
        )
    return _stored_result(conn, batch)


def submit_message(
    rt: Runtime, account: AccountView, request: SendRequest
) -> SendResult:
    """Store one SendMessage; acknowledged only once committed.

    One transaction: the account's version, the ClientReference lookup, the
    block list, the rate limit, credits and the inserts (a transaction costs
    round trips and, on SQLite, a turn at the write lock, which it may share
    with other sends: store/group_commit.py). StaleAccount when the account
    changed since `account` was read or cached.
    """
    checked = _check(rt, account, request)
    reference = request.client_reference
    # Worked out before the write turn, which every writer of the store waits
    # for, on the guess that the account blocks none of the recipients (its
    # block list is read in the turn; the work is redone when it does).
    guess = _prepare(rt, account, checked, set())
    planned = _plan(rt, account, guess, reference)
    try:
        if _stored_at_once(rt, account, guess, planned):
            _accepted(rt, account, guess, planned.result)
            return planned.result
        result, prepared = group_commit.write(
            rt.engine, functools.partial(_write, rt, account, checked, guess, planned)
        )
    except IntegrityError:
        # A concurrent request with the same ClientReference committed first.
        if reference is None:
            raise
        with transaction(rt.engine) as conn:
            blocked = _confirm(conn, account, checked)
            batch = repository.find_batch_by_reference(
                conn, account.account_id, reference
            )
            if batch is None:
                raise
            return _replay(rt, conn, account, batch, checked, blocked)
    if prepared is not None:
        _accepted(rt, account, prepared, result)
    return result


def _write(
    rt: Runtime,
    account: AccountView,
    checked: _Checked,
    guess: _Prepared,
    planned: _Plan,
    conn: Connection,
) -> tuple[SendResult, _Prepared | None]:
    """The send's transaction: its answer, and what was stored (None for a
    replay, which stores nothing)."""
    blocked = _confirm(conn, account, checked)
    reference = planned.result.client_reference
    if reference is not None:
        # Before the limits: a retry after a timeout must get the stored
        # answer, never a rate-limit or credit fault.
        batch = repository.find_batch_by_reference(
            conn, account.account_id, reference
        )
        if batch is not None:
            return _replay(rt, conn, account, batch, checked, blocked), None
    prepared, plan = guess, planned
    if blocked:
        prepared = _prepare(rt, account, checked, blocked)
        plan = _plan(rt, account, prepared, reference)
    if not prepared.accepted:
        raise InvalidRecipient("none of the recipients is a valid, sendable number")
    _store(conn, account, prepared, plan)
    return plan.result, prepared


def _stored_at_once(
    rt: Runtime, account: AccountView, guess: _Prepared, plan: _Plan
) -> bool:
    """On PostgreSQL, a send that needs no account row lock is stored in one
    statement, one round trip: inserted only while the account is unchanged
    and blocks none of the recipients. False when that did not hold (or does
    not apply): the full transaction then works out why."""
    if (
        is_sqlite(rt.engine)
        or not guess.accepted
        or account.rate_limit_per_minute is not None
        or account.credits is not None
        or len(plan.rows) >= repository.AT_ONCE_UP_TO
    ):
        return False
    with single_statement(rt.engine) as conn:
        return repository.insert_send_if_current(
            conn, account.version, plan.batch, plan.rows
        )


def _confirm(conn: Connection, account: AccountView, checked: _Checked) -> set[str]:
    """The recipients the account blocks, once its version is confirmed."""
    version, blocked = repository.version_and_blocked(
        conn, account.account_id, [n for n in checked.normalized if n is not None]
    )
    if version != account.version:
        raise StaleAccount("the account changed during this call; retry")
    return blocked


@dataclass(frozen=True)
class _Plan:
    """The rows a send will insert and the answer it will give."""

    batch: dict[str, Any]
    rows: list[dict[str, Any]]
    result: SendResult


def _plan(
    rt: Runtime,
    account: AccountView,
    prepared: _Prepared,
    reference: str | None,
) -> _Plan:
    count = len(prepared.accepted)
    created_at, ids = new_ids(count + 1, rt.now())
    batch_id, message_ids = ids[0], ids[1:]
    scheduled = prepared.scheduled_for
    if scheduled is not None and scheduled <= created_at:
        scheduled = None  # a past time means now
    start = scheduled or created_at
    initial = status.SCHEDULED if scheduled else status.QUEUED
    expires_at = start + timedelta(minutes=prepared.validity_minutes)
    charge = prepared.parts if account.credits is not None else 0
    rows: list[dict[str, Any]] = [
        {
            "message_id": message_id,
            "created_at": created_at,
            "batch_id": batch_id,
            "account_id": account.account_id,
            "client_reference": reference,
            "recipient": number,
            "sender": prepared.sender,
            "text": prepared.text,
            "encoding": prepared.encoding,
            "parts": prepared.parts,
            "status": initial,
            "parts_delivered": 0,
            "scheduled_for": scheduled,
            "due_at": start,
            "expires_at": expires_at,
            "validity_minutes": prepared.validity_minutes,
            "updated_at": created_at,
            "status_callback_url": prepared.callback_url,
            "charged": charge,
            "attempts": 0,
        }
        for message_id, number in zip(message_ids, prepared.accepted, strict=True)
    ]
    batch = {
        "batch_id": batch_id,
        "account_id": account.account_id,
        "client_reference": reference,
        "content_hash": prepared.content_hash,
        "accepted_count": count,
        "rejected": repository.dumps(
            [[r.recipient, r.reason] for r in prepared.rejected]
        ),
        "created_at": created_at,
    }
    receipts = [
        MessageReceipt(
            m["message_id"], m["recipient"], initial, prepared.parts, prepared.encoding
        )
        for m in rows
    ]
    result = SendResult(batch_id, reference, receipts, list(prepared.rejected))
    return _Plan(batch, rows, result)


def _store(
    conn: Connection, account: AccountView, prepared: _Prepared, plan: _Plan
) -> None:
    batch, rows = plan.batch, plan.rows
    count, created_at = len(rows), batch["created_at"]
    limited = account.rate_limit_per_minute is not None or account.credits is not None
    if limited:
        # The batch first: a concurrent send with the same ClientReference
        # waits on the batches' unique key and fails there, so it is answered
        # as a replay, never with a rate-limit or credit fault.
        repository.insert_batch(conn, batch)
    if account.rate_limit_per_minute is not None:
        # The account row lock serialises this account's sends across
        # workers and nodes while the window is read and written.
        repository.get_account(conn, account.account_id, lock=True)
        used = repository.recent_sends(
            conn, account.account_id, created_at - RATE_WINDOW
        )
        if used + count > account.rate_limit_per_minute:
            raise RateLimited(
                f"rate limit of {account.rate_limit_per_minute} messages a minute "
                f"reached ({used} sent in the last minute, {count} more asked)",
                limit=account.rate_limit_per_minute,
            )
        repository.record_sends(
            conn, account.account_id, created_at, count, created_at - RATE_WINDOW
        )
    if account.credits is not None:
        needed = count * prepared.parts
        if not repository.take_credits(conn, account.account_id, needed):
            row = repository.get_account(conn, account.account_id)
            balance = row.credits if row is not None and row.credits is not None else 0
            raise InsufficientCredit(
                f"{needed} credits needed, {balance} available",
                needed=needed,
                balance=balance,
            )
    if limited:
        repository.insert_messages(conn, rows)
    else:
        # One statement on PostgreSQL; a concurrent send with the same
        # ClientReference fails here, on the batches' unique key.
        repository.insert_batch_and_messages(conn, batch, rows)


def _accepted(
    rt: Runtime, account: AccountView, prepared: _Prepared, result: SendResult
) -> None:
    """Counted and logged once committed."""
    count = len(result.messages)
    counters = metrics.get()
    counters.messages_accepted.inc(count)
    counters.parts_accepted.inc(count * prepared.parts)
    if rt.settings.log_message_text:
        # Only for a debugging session the operator switched on explicitly.
        logger.debug("batch %s text=%r", result.batch_id, prepared.text)
    logger.info(
        "batch %s accepted for %s: %d messages, %d rejected, %d parts each",
        result.batch_id,
        account.account_id,
        count,
        len(prepared.rejected),
        prepared.parts,
    )
