"""The `soapsms` command: serve, smtp, db, account, wsdl."""

from __future__ import annotations

import argparse
import getpass
import logging
import sys
from collections.abc import Sequence
from contextlib import closing
from datetime import date
from pathlib import Path
from typing import Any

from soapsms import errors
from soapsms.config import Settings, load_settings
from soapsms.usecases import accounts
from soapsms.usecases.results import AccountView
from soapsms.usecases.runtime import Runtime

logger = logging.getLogger("soapsms")


def _runtime(settings: Settings) -> closing[Runtime]:
    """A runtime whose connections are closed when the command is done."""
    return closing(Runtime(settings))


def _print_account(view: AccountView) -> None:
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


def _password(args: argparse.Namespace) -> str:
    if args.password is not None:
        return str(args.password)
    first = getpass.getpass("Password: ")
    if getpass.getpass("Repeat password: ") != first:
        raise errors.ValidationError("the passwords differ")
    return first


def cmd_db_upgrade(args: argparse.Namespace, settings: Settings) -> int:
    from soapsms.store.migrate import upgrade

    with _runtime(settings) as rt:
        upgrade(rt.engine)
    print(f"database at {_safe_url(settings.database_url)} is up to date")
    return 0


def _safe_url(url: str) -> str:
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)


def cmd_account(args: argparse.Namespace, settings: Settings) -> int:
    with _runtime(settings) as rt:
        return _account(args, rt)


def _account(args: argparse.Namespace, rt: Runtime) -> int:
    action = args.action
    if action == "create":
        try:
            view = accounts.create_account(
                rt, args.account_id, _password(args), args.name
            )
        except accounts.AccountExists:
            if args.exist_ok:
                print(f"account {args.account_id} already exists")
                return 0
            raise
        print(f"created account {view.account_id}")
        return 0
    if action == "list":
        for view in accounts.list_all(rt):
            state = "disabled" if view.disabled else "enabled"
            print(f"{view.account_id}\t{state}\t{view.name}")
        return 0
    if action == "show":
        _print_account(accounts.get(rt, args.account_id))
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
        view = accounts.set_password(rt, args.account_id, _password(args))
    elif action in ("disable", "enable"):
        view = accounts.set_disabled(rt, args.account_id, action == "disable")
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
    elif action in ("block", "unblock"):
        change = accounts.block if action == "block" else accounts.unblock
        count = change(rt, args.account_id, args.numbers)
        print(f"{action}ed {count} number(s) for {args.account_id}")
        return 0
    else:  # pragma: no cover - argparse refuses unknown actions
        raise AssertionError(action)
    _print_account(view)
    return 0


def cmd_wsdl(args: argparse.Namespace, settings: Settings) -> int:
    from soapsms.soap import wsdl
    from soapsms.soap.app import build_application

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    base = args.base_url.rstrip("/")
    for version, name, path in (
        ("1.1", "soapsms.wsdl", "/soap"),
        ("1.2", "soapsms12.wsdl", "/soap12"),
    ):
        document = wsdl.build(build_application(version), version)
        (out / name).write_bytes(wsdl.with_location(document, base + path))
        print(f"wrote {out / name}")
    return 0


def cmd_dispatch(args: argparse.Namespace, settings: Settings) -> int:
    from soapsms.dispatch.worker import run_dispatcher

    bind = args.metrics_bind or settings.dispatch_metrics_bind
    with _runtime(settings) as rt:
        return run_dispatcher(rt, wait=args.wait, metrics_bind=bind)


def cmd_serve(args: argparse.Namespace, settings: Settings) -> int:
    from soapsms.serve import serve

    changes: dict[str, Any] = {}
    if args.bind:
        changes["bind"] = args.bind
    if args.workers:
        changes["workers"] = args.workers
    # Processes that run once beside the web workers, as `soapsms <argv…>`.
    companions: list[list[str]] = []
    if args.dispatch == "on":
        companions.append(["dispatch"])
    smtp_bind = args.smtp_bind or settings.smtp_bind
    if smtp_bind != "off":
        companions.append(["smtp", "--bind", smtp_bind])
    if args.config:
        companions = [["--config", args.config, *argv] for argv in companions]
    return serve(settings.replace(**changes) if changes else settings, companions)


def cmd_report(args: argparse.Namespace, settings: Settings) -> int:
    from soapsms.usecases import reports

    rng = reports.ReportRange(args.account, args.since, args.until, args.tz)
    with _runtime(settings) as rt:
        if args.out:
            with open(args.out, "w", encoding="utf-8", newline="") as out:
                reports.write(rt, rng, out, args.format, summarize=args.summary)
        else:
            reports.write(rt, rng, sys.stdout, args.format, summarize=args.summary)
    return 0


def _day(value: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"not a date (YYYY-MM-DD): {value}") from exc


def cmd_purge(args: argparse.Namespace, settings: Settings) -> int:
    from soapsms.usecases.retention import purge

    with _runtime(settings) as rt:
        report = purge(
            rt,
            args.older_than,
            dry_run=args.dry_run,
            batch_size=args.batch_size,
            progress=lambda line: print(line, flush=True),
        )
    verb = "would go" if report.dry_run else "removed"
    cutoff = f"{report.cutoff:%Y-%m-%d %H:%M:%S}"
    print(f"retention {report.retention}: data created before {cutoff} UTC")
    for name in report.dropped_partitions:
        print(
            f"partition {name}: {'would be dropped' if report.dry_run else 'dropped'}"
        )
    for table, count in report.rows.items():
        print(f"{table}: {count} rows {verb}")
    if report.created_partitions:
        print(f"created partitions: {', '.join(report.created_partitions)}")
    return 0


def cmd_smtp(args: argparse.Namespace, settings: Settings) -> int:
    from soapsms.smtp_ingress.server import run

    bind = args.bind or settings.smtp_bind
    if bind == "off":
        raise errors.ConfigError("smtp_bind is off; give --bind HOST:PORT")
    with _runtime(settings) as rt:
        return run(rt, bind)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="soapsms", description=__doc__)
    parser.add_argument(
        "--config", help="INI file with a [soapsms] section (or SOAPSMS_CONFIG)"
    )
    sub = parser.add_subparsers(dest="command", required=True)

    serve = sub.add_parser("serve", help="run the gateway under gunicorn")
    serve.add_argument("--bind", help="HOST:PORT (default from config, 127.0.0.1:8000)")
    serve.add_argument("--workers", type=int, help="gunicorn worker processes")
    serve.add_argument(
        "--dispatch",
        choices=("on", "off"),
        default="on",
        help="start one dispatcher beside the web workers (default on)",
    )
    serve.add_argument(
        "--smtp-bind",
        help="HOST:PORT of the SMTP ingress started beside it (default from "
        "config, 127.0.0.1:2525), or off",
    )
    serve.set_defaults(func=cmd_serve)

    smtp = sub.add_parser("smtp", help="run the SMTP ingress (e-mail to SMS)")
    smtp.add_argument("--bind", help="HOST:PORT (default from config, 127.0.0.1:2525)")
    smtp.set_defaults(func=cmd_smtp)

    dispatch = sub.add_parser(
        "dispatch", help="run a dispatcher: send queued messages through the carriers"
    )
    dispatch.add_argument(
        "--wait",
        action="store_true",
        help="on SQLite, wait for a running dispatcher to stop instead of refusing",
    )
    dispatch.add_argument(
        "--metrics-bind",
        help="HOST:PORT to serve Prometheus metrics on, e.g. 127.0.0.1:9101, or "
        "off (default from config: off)",
    )
    dispatch.set_defaults(func=cmd_dispatch)

    report = sub.add_parser(
        "report", help="an account's messages in a date range, as CSV or JSON"
    )
    report.add_argument("--account", required=True)
    report.add_argument(
        "--since", type=_day, required=True, help="first day, YYYY-MM-DD"
    )
    report.add_argument(
        "--until", type=_day, required=True, help="last day (included), YYYY-MM-DD"
    )
    report.add_argument("--format", choices=("csv", "json"), default="csv")
    report.add_argument(
        "--tz", default="UTC", help="days and times in this zone, e.g. Europe/Paris"
    )
    report.add_argument(
        "--summary",
        action="store_true",
        help="one row per day: sent, delivered, failed, parts, credits",
    )
    report.add_argument("--out", help="write to this file instead of stdout")
    report.set_defaults(func=cmd_report)

    purge = sub.add_parser(
        "purge", help="delete message data older than the retention period"
    )
    purge.add_argument(
        "--older-than",
        help="7y, 24m or 730d; at least 2 years, the legal minimum (default "
        "from config: retention, 7y)",
    )
    purge.add_argument(
        "--dry-run", action="store_true", help="print what would go; change nothing"
    )
    purge.add_argument(
        "--batch-size", type=int, default=2000, help="rows per short transaction"
    )
    purge.set_defaults(func=cmd_purge)

    db = sub.add_parser("db", help="database schema")
    db_sub = db.add_subparsers(dest="db_command", required=True)
    db_sub.add_parser("upgrade", help="apply pending migrations").set_defaults(
        func=cmd_db_upgrade
    )

    wsdl = sub.add_parser(
        "wsdl", help="write the WSDL files (as checked in under wsdl/)"
    )
    wsdl.add_argument("--out", default="wsdl")
    wsdl.add_argument("--base-url", default="http://localhost:8000")
    wsdl.set_defaults(func=cmd_wsdl)

    account = sub.add_parser("account", help="manage accounts")
    acts = account.add_subparsers(dest="action", required=True)

    def add(name: str, help_text: str) -> argparse.ArgumentParser:
        p = acts.add_parser(name, help=help_text)
        p.set_defaults(func=cmd_account)
        if name != "list":
            p.add_argument("account_id")
        return p

    p = add("create", "create an account (unlimited credits, no rate limit)")
    p.add_argument("--password", help="prompted for when left out")
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
    p.add_argument("--password", help="prompted for when left out")
    add("disable", "refuse the account's requests (AccessDenied)")
    add("enable", "accept the account's requests again")
    p = add("allow-network", "restrict to source networks (CIDR)")
    p.add_argument("networks", nargs="*")
    p.add_argument("--any", action="store_true", help="lift the restriction")
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
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if (
        getattr(args, "action", None) == "rate-limit"
        and args.per_minute is None
        and not args.off
    ):
        parser.error("rate-limit needs a number of messages per minute, or --off")
    if (
        getattr(args, "action", None) == "allow-network"
        and not args.networks
        and not args.any
    ):
        parser.error("allow-network needs at least one network, or --any")
    try:
        settings = load_settings(args.config)
        logging.basicConfig(
            level=settings.log_level.upper(),
            format="%(asctime)s %(levelname)s %(name)s %(message)s",
        )
        return int(args.func(args, settings))
    except errors.SoapsmsError as exc:
        print(f"soapsms: {exc.message}", file=sys.stderr)
        return 2


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
