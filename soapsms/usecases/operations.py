"""The console's queue view, account pauses, message lookup across accounts,
and retries or requeues of a selection of messages.

Pausing an account is honoured by the dispatcher, not by the send path: the
account's sends are still accepted (disabling refuses them), its messages
are simply not claimed and wait QUEUED until it is resumed (or their
validity ends: EXPIRED). The use cases of SOAP and the CLI do the work:
`query` finds messages, `resend` retries, `dispatching.queue.requeue`
requeues; this module finds their accounts and audits what an operator did.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from soapsms.config import Routes
from soapsms.domain.ids import id_time
from soapsms.errors import ValidationError
from soapsms.store import operations as q
from soapsms.store import operators as audit
from soapsms.store.db import transaction
from soapsms.usecases import accounts, query
from soapsms.usecases.dispatching.queue import requeue
from soapsms.usecases.operators import Actor, audit_row, record
from soapsms.usecases.requests import ListQuery, Selector
from soapsms.usecases.resend import resend
from soapsms.usecases.results import MessageStatus
from soapsms.usecases.runtime import Runtime

# The queue view looks at most at this many due messages (oldest first) and
# this many on back-off, so it costs the same whatever the backlog.
QUEUE_SAMPLE = 10_000
BACKOFF_SHOWN = 200
LOOKUP_LIMIT = 100


@dataclass(frozen=True)
class RouteQueue:
    """Due messages of one route (a number prefix; "" is the default route)."""

    prefix: str
    connectors: tuple[str, ...]
    due: int
    oldest_due: datetime | None


@dataclass(frozen=True)
class QueueView:
    due: int
    capped: bool  # `due` stopped counting at QUEUE_SAMPLE
    oldest_due: datetime | None
    routes: list[RouteQueue]
    backing_off: list[q.Waiting]
    backing_off_capped: bool
    paused_accounts: list[q.Pause]
    # Due messages (among those counted) of paused accounts, by account.
    held: dict[str, int] = field(default_factory=dict)


def _prefix(routes: Routes, number: str) -> str | None:
    """The route prefix serving `number` (longest wins), None without one."""
    best: str | None = None
    for prefix, _names in routes.table:
        if number.startswith(prefix) and (best is None or len(prefix) > len(best)):
            best = prefix
    return best


def queue_view(
    rt: Runtime, sample: int = QUEUE_SAMPLE, shown: int = BACKOFF_SHOWN
) -> QueueView:
    """Due messages per route, the oldest due, messages on back-off, paused
    accounts: one read-only transaction of capped, indexed reads."""
    now = rt.now()
    with transaction(rt.engine) as conn:
        due = q.due_sample(conn, now, sample)
        backing = q.backing_off(conn, now, shown + 1)
        paused = q.paused_accounts(conn)
    routes = rt.settings.routes
    names = dict(routes.table)
    per: dict[str | None, list[q.Waiting]] = defaultdict(list)
    for message in due:
        per[_prefix(routes, message.recipient)].append(message)
    pausing = {p.name for p in paused}
    held: dict[str, int] = defaultdict(int)
    for message in due:
        if message.account_id in pausing:
            held[message.account_id] += 1
    return QueueView(
        due=len(due),
        capped=len(due) >= sample,
        oldest_due=due[0].due_at if due else None,
        routes=[
            RouteQueue(
                prefix=prefix if prefix is not None else "-",
                connectors=names.get(prefix, ()) if prefix is not None else (),
                due=len(waiting),
                oldest_due=waiting[0].due_at,
            )
            for prefix, waiting in sorted(per.items(), key=lambda item: -len(item[1]))
        ],
        backing_off=backing[:shown],
        backing_off_capped=len(backing) > shown,
        paused_accounts=paused,
        held=dict(held),
    )


def pause_account(rt: Runtime, actor: Actor, account_id: str) -> bool:
    """Hold an account's messages (QUEUED, not claimed); False if held already."""
    accounts.get(rt, account_id)  # AccountNotFound
    with transaction(rt.engine, write=True) as conn:
        done = q.pause_account(conn, account_id, actor.name[:64], rt.now())
        if done:
            audit.add_audit(conn, audit_row(rt, actor, "account.pause", account_id))
    return done


def resume_account(rt: Runtime, actor: Actor, account_id: str) -> bool:
    with transaction(rt.engine, write=True) as conn:
        done = q.resume_account(conn, account_id)
        if done:
            audit.add_audit(conn, audit_row(rt, actor, "account.resume", account_id))
    return done


def paused_accounts(rt: Runtime) -> list[q.Pause]:
    with transaction(rt.engine) as conn:
        return q.paused_accounts(conn)


# --- lookup across accounts ----------------------------------------------------


@dataclass(frozen=True)
class Found:
    """A message found by the console, with the account it belongs to."""

    account_id: str
    message: MessageStatus


def _found(account_id: str, statuses: Iterable[MessageStatus]) -> list[Found]:
    return [Found(account_id, m) for m in statuses if m.status != "UNKNOWN"]


def lookup(
    rt: Runtime,
    *,
    message_id: str = "",
    batch_id: str = "",
    reference: str = "",
    number: str = "",
    limit: int = LOOKUP_LIMIT,
) -> list[Found]:
    """Messages by MessageId, BatchId, ClientReference or number, whatever
    their account (one criterion; the number's newest `limit` per account)."""
    given = [v.strip() for v in (message_id, batch_id, reference, number)]
    if sum(1 for v in given if v) != 1:
        raise ValidationError(
            "give one of: a MessageId, a BatchId, a client reference or a number"
        )
    message_id, batch_id, reference, number = given
    if message_id or batch_id:
        wanted = (message_id or batch_id).upper()
        created = id_time(wanted)
        if created is None:
            kind = "MessageId" if message_id else "BatchId"
            raise ValidationError(f"{wanted!r} is not a {kind}")
        with transaction(rt.engine) as conn:
            owner = (
                q.account_of_message(conn, wanted, created)
                if message_id
                else q.account_of_batch(conn, wanted)
            )
        if owner is None:
            return []
        selector = (
            Selector(message_ids=(wanted,)) if message_id else Selector(batch_id=wanted)
        )
        return _found(owner, query.get_status(rt, accounts.get(rt, owner), selector))
    found: list[Found] = []
    valid = False
    for account in accounts.list_all(rt):
        try:
            if reference:
                statuses = query.get_status(
                    rt, account, Selector(client_reference=reference)
                )
            else:
                statuses = query.list_messages(
                    rt, account, ListQuery(recipient=number, limit=limit)
                ).messages
        except ValidationError:
            continue  # not a number in this account's region
        valid = True
        found.extend(_found(account.account_id, statuses))
    if number and not valid:
        raise ValidationError(f"{number!r} is not a valid number")
    return found


def account_messages(
    rt: Runtime, account_id: str, status: str, limit: int = LOOKUP_LIMIT
) -> list[Found]:
    """An account's newest messages in a status (the retry and requeue lists)."""
    account = accounts.get(rt, account_id)
    page = query.list_messages(rt, account, ListQuery(status=status, limit=limit))
    return _found(account_id, page.messages)


# --- retry and requeue a selection ------------------------------------------------


def _by_account(selection: Sequence[tuple[str, str]]) -> dict[str, list[str]]:
    """(account, MessageId) pairs grouped by account, in order, without repeats."""
    if not selection:
        raise ValidationError("select at least one message")
    grouped: dict[str, list[str]] = {}
    for account_id, message_id in dict.fromkeys(selection):
        grouped.setdefault(account_id, []).append(message_id.strip().upper())
    return grouped


def retry_selected(
    rt: Runtime, actor: Actor, selection: Sequence[tuple[str, str]]
) -> list[tuple[str, str, str]]:
    """Send the selected ended messages again as new ones (`messages retry`):
    (old MessageId, new MessageId or "-", status or why not) each. An
    account's messages are checked together: one that may not be retried
    refuses that account's whole selection, before anything is sent."""
    # Every account's selection is checked before anything is sent.
    checked = [
        (account_id, ids, resend(rt, account_id, ids))
        for account_id, ids in _by_account(selection).items()
    ]
    done: list[tuple[str, str, str]] = []
    for account_id, ids, sending in checked:
        answers = list(sending)
        done.extend(answers)
        sent = [new for _old, new, _state in answers if new != "-"]
        record(
            rt,
            actor,
            "messages.retry",
            account_id,
            f"{len(sent)} of {len(ids)} sent again: " + " ".join(ids),
        )
    return done


def requeue_selected(
    rt: Runtime, actor: Actor, selection: Sequence[tuple[str, str]]
) -> list[tuple[str, str]]:
    """Make the selected messages on back-off due now (`messages requeue`):
    (MessageId, what was done) each."""
    done: list[tuple[str, str]] = []
    for account_id, ids in _by_account(selection).items():
        keys = []
        for message_id in ids:
            created = id_time(message_id)
            if created is None:
                raise ValidationError(f"{message_id!r} is not a MessageId")
            keys.append((message_id, created))
        answers = requeue(rt, account_id, keys)
        done.extend(answers)
        moved = sum(1 for _id, what in answers if what == "due now")
        record(
            rt,
            actor,
            "messages.requeue",
            account_id,
            f"{moved} of {len(ids)} due now: " + " ".join(ids),
        )
    return done
