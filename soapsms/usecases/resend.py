"""Resend messages that ended without delivery, as new messages (support work).

A terminal status never changes (the contract's lifecycle), so a retry is a
new send of the same text, sender, encoding and validity to the same number:
new MessageIds, charged like any send, no status callback.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

from soapsms.domain import status
from soapsms.domain.ids import id_time
from soapsms.errors import AccountNotFound, InvalidRecipient, ValidationError
from soapsms.store import repository
from soapsms.store.db import transaction
from soapsms.store.records import MessageContent
from soapsms.usecases import send
from soapsms.usecases.auth import account_view
from soapsms.usecases.requests import SendRequest
from soapsms.usecases.results import AccountView
from soapsms.usecases.runtime import Runtime

RESENDABLE = frozenset(
    {status.UNDELIVERED, status.EXPIRED, status.REJECTED, status.FAILED}
)
MAX_IDS = 1000


def resend(
    rt: Runtime, account_id: str, message_ids: Sequence[str]
) -> Iterator[tuple[str, str, str]]:
    """(old MessageId, new MessageId or "-", new status or why not) each, as
    each is sent: a failure half-way (credits, rate limit) leaves the earlier
    ones sent and said."""
    ids = list(dict.fromkeys(i.strip().upper() for i in message_ids if i.strip()))
    if not ids or len(ids) > MAX_IDS:
        raise ValidationError(f"give 1 to {MAX_IDS} MessageIds")
    keys = [(i, t) for i in ids if (t := id_time(i)) is not None]
    with transaction(rt.engine) as conn:
        row = repository.get_account(conn, account_id)
        if row is None:
            raise AccountNotFound(f"no account {account_id!r}")
        account = account_view(row)
        found = {
            r.message_id: r for r in repository.message_contents(conn, account_id, keys)
        }
    missing = [i for i in ids if i not in found]
    if missing:
        raise ValidationError(f"no message {missing[0]} for account {account_id!r}")
    wrong = [i for i in ids if found[i].status not in RESENDABLE]
    if wrong:
        raise ValidationError(
            f"message {wrong[0]} is {found[wrong[0]].status}; only messages that "
            f"ended {', '.join(sorted(RESENDABLE))} are resent"
        )
    return _each(rt, account, [found[i] for i in ids])


def _each(
    rt: Runtime, account: AccountView, rows: list[MessageContent]
) -> Iterator[tuple[str, str, str]]:
    for old in rows:
        try:
            sent = send.submit_message(
                rt,
                account,
                SendRequest(
                    text=old.text,
                    recipients=(old.recipient,),
                    sender=old.sender,
                    encoding=old.encoding,
                    validity_minutes=old.validity_minutes,
                ),
            )
        except InvalidRecipient as exc:  # blocked or no route by now
            yield old.message_id, "-", exc.message
            continue
        receipt = sent.messages[0]
        yield old.message_id, receipt.message_id, receipt.status
