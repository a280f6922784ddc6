"""`soapsms admin …` (console operators) and `soapsms connector …` (pause,
resume, state): the operator console's commands for a shell."""

from __future__ import annotations

import argparse
import getpass
from typing import Any

from soapsms.cli.common import password, password_options, runtime
from soapsms.config import Settings
from soapsms.errors import OperatorExists
from soapsms.usecases import carriers, operators
from soapsms.usecases.runtime import Runtime


def add_parsers(sub: Any) -> None:
    admin = sub.add_parser("admin", help="operators of the /admin console")
    acts = admin.add_subparsers(dest="admin_command", required=True)
    create = acts.add_parser(
        "create",
        help="create an operator; prompts for the password on a terminal",
    )
    create.add_argument("name")
    password_options(create)
    create.add_argument("--exist-ok", action="store_true", help="succeed if it exists")
    acts.add_parser("list", help="list operators")
    for action, text in (
        ("disable", "end the operator's sessions and refuse its logins"),
        ("enable", "let a disabled operator log in again"),
        ("set-password", "change an operator's password"),
    ):
        p = acts.add_parser(action, help=text)
        p.add_argument("name")
        if action == "set-password":
            password_options(p)
    for p in acts.choices.values():
        p.set_defaults(func=run, subparser=p)
    connector = sub.add_parser(
        "connector", help="carrier connectors: state, pause, resume"
    )
    cacts = connector.add_subparsers(dest="connector_command", required=True)
    cacts.add_parser("list", help="each connector's state in the live dispatchers")
    for action, text in (
        ("pause", "no new submissions through it (messages fail over or wait)"),
        ("resume", "submit through it again"),
    ):
        cacts.add_parser(action, help=text).add_argument("name")
    for p in cacts.choices.values():
        p.set_defaults(func=run, subparser=p)


def _actor() -> operators.Actor:
    try:
        user = getpass.getuser()
    except (KeyError, OSError):  # no passwd entry (a container's uid)
        user = "unknown"
    return operators.Actor("cli", user, "cli")


def audit_account(rt: Runtime, args: argparse.Namespace) -> None:
    """Audit a change `soapsms account` made (never a password or secret)."""
    action = args.action
    if action == "set":
        changed = [
            name
            for name in (
                "name",
                "default_sender",
                "allowed_senders",
                "max_recipients",
                "default_region",
                "callback_secret",
            )
            if getattr(args, name) is not None
        ]
        detail = " ".join(changed)
    elif action == "credits":
        if args.unlimited:
            detail = "unlimited"
        elif args.set is not None:
            detail = f"set {args.set}"
        else:
            detail = f"add {args.add}"
    elif action == "rate-limit":
        detail = "off" if args.off else f"{args.per_minute}/min"
    elif action == "allow-network":
        detail = (
            "any"
            if args.any
            else " ".join(
                [f"+{n}" for n in args.add or ()] + [f"-{n}" for n in args.remove or ()]
            )
            or " ".join(args.networks)
        )
    elif action in ("block", "unblock"):
        detail = " ".join(args.numbers)
    else:
        detail = ""
    operators.record(rt, _actor(), f"account.{action}", args.account_id, detail or None)


def run(args: argparse.Namespace, settings: Settings) -> int:
    if args.command == "connector":
        return _connector(args, settings)
    action = args.admin_command
    # Asked before the store is opened: a bad prompt leaves nothing behind.
    secret = password(args) if action in ("create", "set-password") else ""
    with runtime(settings) as rt:
        if action == "create":
            try:
                view = operators.create(rt, _actor(), args.name, secret)
            except OperatorExists:
                if not args.exist_ok:
                    raise
                print(f"operator {args.name} already exists")
                return 0
            print(f"created operator {view.name}")
        elif action == "set-password":
            view = operators.set_password(rt, _actor(), args.name, secret)
            print(f"changed the password of operator {view.name}")
        elif action == "list":
            for view in operators.list_all(rt):
                state = "disabled" if view.disabled else "enabled"
                created = view.created_at.isoformat(timespec="seconds")
                print(f"{view.name}\t{state}\t{created}")
        else:
            view = operators.set_disabled(rt, _actor(), args.name, action == "disable")
            print(f"operator {view.name} {action}d")
    return 0


def _connector(args: argparse.Namespace, settings: Settings) -> int:
    action = args.connector_command
    with runtime(settings) as rt:
        if action == "list":
            for view in carriers.carriers(rt):
                print(_line(view))
            return 0
        change = carriers.pause if action == "pause" else carriers.resume
        done = change(rt, _actor(), args.name)
    name = args.name.strip()
    if done:
        print(f"connector {name} {action}d")
    else:
        print(f"connector {name} was {'paused' if action == 'pause' else 'not paused'}")
    return 0


def _line(view: carriers.CarrierView) -> str:
    """connector, state, since, in flight, submits/min, receipts/min, last error"""
    since = view.since.isoformat(timespec="seconds") if view.since else "-"
    totals = view.totals()
    return "\t".join(
        [
            view.connector,
            view.state,
            since,
            str(totals["in_flight"]),
            str(totals["submits_per_minute"]),
            str(totals["receipts_per_minute"]),
            view.last_error or "-",
        ]
    )
