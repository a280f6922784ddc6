"""`soapsms account …`: create, show, change and delete customer accounts."""

from __future__ import annotations

import argparse
from typing import Any

from soapsms import errors
from soapsms.cli import console
from soapsms.cli.common import confirm, password, password_options, runtime
from soapsms.config import Settings
from soapsms.usecases import accounts
from soapsms.usecases.results import AccountView
from soapsms.usecases.runtime import Runtime


def add_parsers(sub: Any) -> None:
    account = sub.add_parser("account", help="manage accounts")
    acts = account.add_subparsers(dest="action", required=True)

    def add(name: str, help_text: str) -> argparse.ArgumentParser:
        p = acts.add_parser(name, help=help_text)
        p.set_defaults(func=cmd_account, subparser=p)
        if name != "list":
            p.add_argument("account_id")
        return p

    p = add("create", "create an account (unlimited credits, no rate limit)")
    password_options(p)
    p.add_argument("--name")
    p.add_argument("--exist-ok", action="store_true", help="succeed if it exists")
    add("list", "list accounts")
    add("show", "show one account")
    p = add("set", "change settings; an empty value clears an optional one")
    p.add_argument("--name")
    p.add_argument("--default-sender")
    p.add_argument("--allowed-senders", help="comma-separated; empty allows any")
    p.add_argument("--max-recipients", type=int)
    p.add_argument("--default-region", help="e.g. US, GB; empty for none")
    p.add_argument("--callback-secret")
    p = add("set-password", "change the password")
    password_options(p)
    add("disable", "refuse the account's requests (AccessDenied)")
    add("enable", "accept the account's requests again")
    p = add(
        "allow-network",
        "restrict to source networks (CIDR): the list given, or --add/--remove some",
    )
    p.add_argument("networks", nargs="*")
    way = p.add_mutually_exclusive_group()
    way.add_argument("--any", action="store_true", help="lift the restriction")
    way.add_argument("--add", nargs="+", metavar="CIDR", help="add to the list")
    way.add_argument("--remove", nargs="+", metavar="CIDR", help="remove from it")
    p = add("credits", "set or add credits, or make them unlimited")
    group = p.add_mutually_exclusive_group(required=True)
    group.add_argument("--set", type=int)
    group.add_argument("--add", type=int)
    group.add_argument("--unlimited", action="store_true")
    p = add("rate-limit", "accepted messages per minute")
    p.add_argument("per_minute", type=int, nargs="?")
    p.add_argument("--off", action="store_true")
    p = add("block", "refuse these numbers (BLOCKED)")
    p.add_argument("numbers", nargs="+")
    p = add("unblock", "accept these numbers again")
    p.add_argument("numbers", nargs="+")
    add("blocked", "list the blocked numbers")
    p = add("delete", "delete an account that has no messages (else: disable it)")
    p.add_argument("--yes", action="store_true", help="do not ask for confirmation")


def check_args(args: argparse.Namespace, command: argparse.ArgumentParser) -> None:
    """What argparse cannot say about an account command's arguments."""
    if args.action == "rate-limit" and args.per_minute is None and not args.off:
        command.error("rate-limit needs a number of messages per minute, or --off")
    if args.action == "allow-network":
        given = [bool(args.networks), args.any, bool(args.add or args.remove)]
        if sum(given) != 1:
            command.error(
                "allow-network takes networks, --add/--remove networks, or --any"
            )


def cmd_account(args: argparse.Namespace, settings: Settings) -> int:
    with runtime(settings) as rt:
        return _account(args, rt)


def _account(args: argparse.Namespace, rt: Runtime) -> int:
    action = args.action
    if action == "create":
        try:
            view = accounts.create_account(
                rt, args.account_id, password(args), args.name
            )
        except errors.AccountExists:
            if args.exist_ok:
                print(f"account {args.account_id} already exists")
                return 0
            raise
        console.audit_account(rt, args)
        print(f"created account {view.account_id}")
        # Shown once, for the customer to check X-Soapsms-Signature with.
        secret = accounts.callback_secret(rt, view.account_id)
        print(f"callback secret: {secret}")
        return 0
    if action == "list":
        for view in accounts.list_all(rt):
            state = "disabled" if view.disabled else "enabled"
            print(f"{view.account_id}\t{state}\t{view.name}")
        return 0
    if action == "show":
        print_account(accounts.get(rt, args.account_id))
        return 0
    if action == "set":
        senders = None
        if args.allowed_senders is not None:
            senders = [s.strip() for s in args.allowed_senders.split(",") if s.strip()]
        view = accounts.set_fields(
            rt,
            args.account_id,
            name=args.name,
            default_sender=args.default_sender,
            allowed_senders=senders,
            max_recipients=args.max_recipients,
            default_region=args.default_region,
            callback_secret=args.callback_secret,
        )
    elif action == "set-password":
        view = accounts.set_password(rt, args.account_id, password(args))
    elif action in ("disable", "enable"):
        view = accounts.set_disabled(rt, args.account_id, action == "disable")
    elif action == "allow-network" and (args.add or args.remove):
        view = accounts.change_networks(
            rt, args.account_id, add=args.add or (), remove=args.remove or ()
        )
    elif action == "allow-network":
        view = accounts.set_networks(
            rt, args.account_id, [] if args.any else args.networks
        )
    elif action == "credits":
        view = accounts.set_credits(
            rt,
            args.account_id,
            balance=args.set,
            add=args.add,
            unlimited=args.unlimited,
        )
    elif action == "rate-limit":
        view = accounts.set_rate_limit(
            rt, args.account_id, None if args.off else args.per_minute
        )
    elif action == "blocked":
        for number in accounts.blocked_numbers(rt, args.account_id):
            print(number)
        return 0
    elif action == "delete":
        confirm(args, f"delete account {args.account_id}")
        accounts.delete_account(rt, args.account_id)
        console.audit_account(rt, args)
        print(f"deleted account {args.account_id}")
        return 0
    elif action in ("block", "unblock"):
        change = accounts.block if action == "block" else accounts.unblock
        count = change(rt, args.account_id, args.numbers)
        console.audit_account(rt, args)
        print(f"{action}ed {count} number(s) for {args.account_id}")
        return 0
    else:  # pragma: no cover - argparse refuses unknown actions
        raise AssertionError(action)
    console.audit_account(rt, args)
    print_account(view)
    return 0


def print_account(view: AccountView) -> None:
    credits = "unlimited" if view.credits is None else str(view.credits)
    rate = (
        "none"
        if view.rate_limit_per_minute is None
        else f"{view.rate_limit_per_minute}/min"
    )
    print(f"account:          {view.account_id}")
    print(f"name:             {view.name}")
    print(f"state:            {'disabled' if view.disabled else 'enabled'}")
    print(f"credits:          {credits}")
    print(f"rate limit:       {rate}")
    print(f"default sender:   {view.default_sender or '-'}")
    print(f"allowed senders:  {', '.join(view.allowed_senders) or 'any'}")
    print(f"allowed networks: {', '.join(view.allowed_networks) or 'any'}")
    print(f"max recipients:   {view.max_recipients}")
    print(f"default region:   {view.default_region or '-'}")
    print(f"callback secret:  {'set' if view.callback_secret_set else '-'}")
    print(f"blocked numbers:  {view.blocked_count}")
