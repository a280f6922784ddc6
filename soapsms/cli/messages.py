"""`soapsms messages find|retry|requeue`: look messages up, send failed ones
again, and make waiting ones due now, from a shell, for support work."""

from __future__ import annotations

import argparse
from datetime import datetime
from typing import Any

from soapsms import errors
from soapsms.cli.common import runtime
from soapsms.config import Settings
from soapsms.usecases import accounts, query
from soapsms.usecases.requests import ListQuery, Selector
from soapsms.usecases.results import MessageStatus

COLUMNS = (
    "message_id",
    "status",
    "recipient",
    "created_at",
    "done_at",
    "error_code",
    "client_reference",
    "batch_id",
)


def add_parser(sub: Any) -> None:
    """The `messages` command and its `find` action."""
    messages = sub.add_parser("messages", help="look messages up (support work)")
    acts = messages.add_subparsers(dest="messages_command", required=True)
    find = acts.add_parser(
        "find",
        help="an account's messages by id, batch, client reference, recipient, "
        "status or time; one tab-separated line each",
    )
    find.set_defaults(func=run, subparser=find)
    find.add_argument("--account", required=True)
    find.add_argument("--id", nargs="+", default=[], help="MessageIds")
    find.add_argument("--batch", help="a BatchId")
    find.add_argument("--reference", help="a ClientReference")
    find.add_argument("--recipient", help="a number, as the account would send it")
    find.add_argument("--status", help="QUEUED, SUBMITTED, DELIVERED, …")
    find.add_argument("--since", type=_instant, help="YYYY-MM-DD[THH:MM] UTC")
    find.add_argument("--until", type=_instant, help="YYYY-MM-DD[THH:MM] UTC")
    find.add_argument("--limit", type=int, default=100, help="at most this many")
    retry = acts.add_parser(
        "retry",
        help="send again, as new messages, messages that ended UNDELIVERED, "
        "EXPIRED, REJECTED or FAILED (same text, sender, number; charged again)",
    )
    retry.set_defaults(func=run, subparser=retry)
    retry.add_argument("--account", required=True)
    retry.add_argument("message_ids", nargs="+", metavar="MESSAGE_ID")
    requeue = acts.add_parser(
        "requeue",
        help="make QUEUED messages waiting out a retry back-off due now (once a "
        "carrier is fixed); one line each: the MessageId and what was done",
    )
    requeue.set_defaults(func=run, subparser=requeue)
    requeue.add_argument("--account", required=True)
    requeue.add_argument("message_ids", nargs="+", metavar="MESSAGE_ID")


def _instant(value: str) -> datetime:
    try:
        return datetime.fromisoformat(value)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"not a date or time: {value}") from exc


def run(args: argparse.Namespace, settings: Settings) -> int:
    """Print the messages found; exit 1 when there are none."""
    if args.messages_command == "retry":
        return _retry(args, settings)
    if args.messages_command == "requeue":
        return _requeue(args, settings)
    by_selector = args.id or args.reference
    if by_selector and (args.recipient or args.status or args.since or args.until):
        raise errors.ValidationError(
            "--id and --reference go alone (with --batch at most); "
            "--recipient, --status, --since and --until go with --batch or alone"
        )
    with runtime(settings) as rt:
        account = accounts.get(rt, args.account)
        found: list[MessageStatus]
        if by_selector:
            selector = Selector(
                message_ids=tuple(args.id),
                batch_id=args.batch,
                client_reference=args.reference,
            )
            found = query.get_status(rt, account, selector)
        else:
            page = query.list_messages(
                rt,
                account,
                ListQuery(
                    since=args.since,
                    until=args.until,
                    status=args.status,
                    recipient=args.recipient,
                    batch_id=args.batch,
                    limit=args.limit,
                ),
            )
            found = page.messages
    print("\t".join(COLUMNS))
    for message in found:
        print("\t".join(_cell(getattr(message, c)) for c in COLUMNS))
    return 0 if any(m.status != "UNKNOWN" for m in found) else 1


def _retry(args: argparse.Namespace, settings: Settings) -> int:
    from soapsms.usecases.resend import resend

    failed = False
    with runtime(settings) as rt:
        for old, new, state in resend(rt, args.account, args.message_ids):
            print(f"{old}\t{new}\t{state}", flush=True)
            failed = failed or new == "-"
    return 1 if failed else 0


def _requeue(args: argparse.Namespace, settings: Settings) -> int:
    """Exit 1 unless every message is due now (or was already)."""
    from soapsms.domain.ids import id_time
    from soapsms.usecases.dispatching.queue import requeue

    keys = []
    for raw in dict.fromkeys(i.strip().upper() for i in args.message_ids):
        created = id_time(raw)
        if created is None:
            raise errors.ValidationError(f"{raw!r} is not a MessageId")
        keys.append((raw, created))
    with runtime(settings) as rt:
        accounts.get(rt, args.account)
        done = requeue(rt, args.account, keys)
    for message_id, what in done:
        print(f"{message_id}\t{what}")
    return 0 if all(w in ("due now", "due already") for _, w in done) else 1


def _cell(value: object) -> str:
    if value is None:
        return "-"
    if isinstance(value, datetime):
        return value.isoformat(timespec="milliseconds")
    return str(value)
