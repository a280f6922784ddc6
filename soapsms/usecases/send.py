"""SendMessage: validate, normalise, charge and store a batch in one transaction."""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Callable
from dataclasses import dataclass, fields
from datetime import UTC, datetime, timedelta
from typing import Any

from soapsms import metrics
from soapsms.domain import callback_target, encoding, phone, status
from soapsms.domain.ids import new_ids
from soapsms.domain.sender import validate_sender
from soapsms.errors import (
    DuplicateReference,
    InvalidRecipient,
    InvalidSender,
    StaleAccount,
    TooManyRecipients,
    ValidationError,
)
from soapsms.store import repository
from soapsms.store.base import Replayed, SendPlan, Stale
from soapsms.usecases.requests import SendRequest
from soapsms.usecases.results import (
    AccountView,
    MessageReceipt,
    RejectedRecipient,
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
# Why a recipient was rejected, in words, for an all-or-nothing send's error.
_REASONS = {
    INVALID_NUMBER: "not a valid phone number",
    BLOCKED: "blocked for this account",
    NO_ROUTE: "no route serves this number",
}


def to_utc(value: datetime) -> datetime:
    """Naive UTC; a time without a zone is already UTC."""
    if value.tzinfo is not None:
        try:
            value = value.astimezone(UTC).replace(tzinfo=None)
        except OverflowError as exc:  # e.g. 9999-12-31T23:00:00-05:00
            raise ValidationError(
                f"{value.isoformat()} is outside the years 1 to 9999 in UTC"
            ) from exc
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
    all_or_nothing: bool


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
    try:
        parts = callback_target.check_url(url)
    except callback_target.BadUrl as exc:
        raise ValidationError(f"StatusCallbackUrl is not usable: {exc}") from exc
    if not allow_private:
        host = parts.hostname or ""
        if callback_target.is_local_name(host):
            raise ValidationError(
                "StatusCallbackUrl may not point at a loopback address"
            )
        address = callback_target.literal_address(host)
        # Names are checked again after DNS, when the callback is sent.
        if address is not None and not callback_target.is_public(address):
            raise ValidationError(
                "StatusCallbackUrl may not point at a loopback, private or "
                "other non-public address"
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
        all_or_nothing=request.all_or_nothing,
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


def _replay(
    rt: Runtime, account: AccountView, checked: _Checked, found: Replayed
) -> SendResult:
    """The stored batch's answer, if its ClientReference was used for this
    same message."""
    prepared = _prepare(rt, account, checked, found.blocked)
    if prepared.content_hash != found.content_hash:
        raise DuplicateReference(
            f"ClientReference {found.client_reference!r} was already used for "
            "a different message",
            client_reference=found.client_reference,
        )
    receipts = [
        MessageReceipt(
            message_id=m.message_id,
            recipient=m.recipient,
            # The status the receipt had when the batch was first answered.
            status=status.SCHEDULED if m.scheduled else status.QUEUED,
            parts=m.parts,
            encoding=m.encoding,
        )
        for m in found.messages
    ]
    rejected = [RejectedRecipient(r, reason) for r, reason in found.rejected]
    return SendResult(
        found.batch_id, found.client_reference, receipts, rejected, replayed=True
    )


def submit_message(
    rt: Runtime,
    account: AccountView,
    request: SendRequest,
    login_again: Callable[[], AccountView] | None = None,
) -> SendResult:
    """Store one SendMessage; acknowledged only once committed.

    StaleAccount when the account changed since `account` was read or
    cached; with `login_again`, the account is read again through it (the
    caller's login, so a password changed meanwhile fails there) and the send
    tried once more: how every ingress answers an account changed mid-call.
    """
    try:
        return _submit(rt, account, request)
    except StaleAccount:
        if login_again is None:
            raise
        return _submit(rt, login_again(), request)


def _submit(rt: Runtime, account: AccountView, request: SendRequest) -> SendResult:
    """One transaction: the account's version, the ClientReference lookup, the
    block list, the rate limit, credits and the inserts (a transaction costs
    round trips and, on SQLite, a turn at the write lock, which it may share
    with other sends: store/group_commit.py)."""
    checked = _check(rt, account, request)
    # Worked out before the write turn, which every writer of the store waits
    # for, on the guess that the account blocks none of the recipients (its
    # block list is read in the turn; the work is redone when it does).
    guess = _prepare(rt, account, checked, set())
    _refuse_partial(guess)
    planned = _plan(rt, account, guess, request.client_reference)
    settled = {id(planned.store): (guess, planned)}

    def settle(blocked: set[str]) -> SendPlan:
        prepared, plan = guess, planned
        if blocked:
            prepared = _prepare(rt, account, checked, blocked)
            plan = _plan(rt, account, prepared, request.client_reference)
            settled[id(plan.store)] = (prepared, plan)
        _refuse_partial(prepared)
        if not prepared.accepted:
            raise InvalidRecipient("none of the recipients is a valid, sendable number")
        return plan.store

    outcome = rt.store.store_send(planned.store, account.version, settle)
    if isinstance(outcome, Stale):
        raise StaleAccount("the account changed during this call; retry")
    if isinstance(outcome, Replayed):
        return _replay(rt, account, checked, outcome)
    prepared, stored = settled[id(outcome.plan)]
    _accepted(rt, account, prepared, stored.result)
    return stored.result


def _refuse_partial(prepared: _Prepared) -> None:
    """An all-or-nothing send fails on its first rejected recipient; a number
    given twice is still one message."""
    if not prepared.all_or_nothing:
        return
    for rejected in prepared.rejected:
        if rejected.reason in _REASONS:
            raise InvalidRecipient(
                f"recipient {rejected.recipient!r}: {_REASONS[rejected.reason]}"
            )


@dataclass(frozen=True)
class _Plan:
    """The rows a send will insert and the answer it will give."""

    store: SendPlan
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
    plan = SendPlan(
        account_id=account.account_id,
        reference=reference,
        batch=batch,
        rows=rows,
        numbers=[n for n in prepared.normalized if n is not None],
        rate_limit_per_minute=account.rate_limit_per_minute,
        rate_since=created_at - RATE_WINDOW,
        credits_needed=charge * count if account.credits is not None else None,
    )
    return _Plan(plan, result)


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
