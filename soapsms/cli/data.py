"""`soapsms db|wsdl|report|purge`: the schema, the WSDL files and the data."""

from __future__ import annotations

import argparse
import sys
from contextlib import closing
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from soapsms import errors
from soapsms.cli.common import confirm, runtime, safe_url
from soapsms.config import Settings, values
from soapsms.progress import Progress
from soapsms.usecases.runtime import Runtime


def add_parsers(sub: Any) -> None:
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
        nargs="?",
        const="day",
        choices=("day", "month"),
        help="one row per day (or per month: --summary month): sent, delivered, "
        "failed, parts, credits",
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
        "--yes",
        action="store_true",
        help="do not ask for confirmation (timers, scripts); without a terminal "
        "and without --yes the purge is refused",
    )
    purge.add_argument(
        "--batch-size", default="2000", help="rows per short transaction"
    )
    purge.set_defaults(func=cmd_purge)

    db = sub.add_parser("db", help="database schema")
    db_sub = db.add_subparsers(dest="db_command", required=True)
    db_sub.add_parser("upgrade", help="apply pending migrations").set_defaults(
        func=cmd_db_upgrade
    )
    db_sub.add_parser(
        "status",
        help="the schema's revision, pending migrations, partitions ahead "
        "(exit 1 while migrations are pending)",
    ).set_defaults(func=cmd_db_status)

    wsdl = sub.add_parser(
        "wsdl", help="write the WSDL files (as checked in under wsdl/)"
    )
    wsdl.add_argument("--out", default="wsdl")
    wsdl.add_argument("--base-url", default="http://localhost:8000")
    wsdl.set_defaults(func=cmd_wsdl)


def cmd_db_upgrade(args: argparse.Namespace, settings: Settings) -> int:
    from soapsms.store.migrate import upgrade
    from soapsms.store.readiness import check_directory

    with closing(Runtime(settings)) as rt:
        check_directory(rt.engine)
        upgrade(rt.engine)
    print(f"database at {safe_url(settings.database_url)} is up to date")
    return 0


def cmd_db_status(args: argparse.Namespace, settings: Settings) -> int:
    from soapsms.store.readiness import schema_state

    with closing(Runtime(settings)) as rt:
        state = schema_state(rt.engine)
    print(f"database:   {safe_url(settings.database_url)}")
    print(f"schema:     {state.current or 'none (run `soapsms db upgrade`)'}")
    print(f"this code:  {state.head}")
    pending = ", ".join(state.pending) or "none"
    print(f"pending:    {pending}")
    for table, name in sorted(state.last_partitions.items()):
        print(f"partitions: {table} up to {name}")
    return 1 if state.pending else 0


def cmd_wsdl(args: argparse.Namespace, settings: Settings) -> int:
    from soapsms.soap import wsdl
    from soapsms.soap.app import build_application

    out = Path(args.out)
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise errors.ValidationError(f"cannot write to {out}: {exc.strerror}") from exc
    base = args.base_url.rstrip("/")
    for version, name, path in (
        ("1.1", "soapsms.wsdl", "/soap"),
        ("1.2", "soapsms12.wsdl", "/soap12"),
    ):
        document = wsdl.build(build_application(version), version)
        (out / name).write_bytes(wsdl.with_location(document, base + path))
        print(f"wrote {out / name}")
    return 0


def cmd_report(args: argparse.Namespace, settings: Settings) -> int:
    from soapsms.usecases import reports

    rng = reports.ReportRange(args.account, args.since, args.until, args.tz)
    rng.bounds()  # a wrong range is said before the store is opened
    shown = Progress("report")
    if not args.out and sys.stdout.isatty():
        shown.enabled = False  # the report itself is on the terminal
    on_page = shown.update if shown.enabled else None
    shape: dict[str, Any] = {
        "summarize": args.summary is not None,
        "by": args.summary or "day",
        "on_page": on_page,
    }
    with runtime(settings) as rt:
        if args.out:
            try:
                out = open(args.out, "w", encoding="utf-8", newline="")
            except OSError as exc:
                raise errors.ValidationError(
                    f"cannot write the report to {args.out}: {exc.strerror}"
                ) from exc
            with out:
                reports.write(rt, rng, out, args.format, **shape)
        else:
            reports.write(rt, rng, sys.stdout, args.format, **shape)
    shown.finish()
    return 0


def _day(value: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"not a date (YYYY-MM-DD): {value}") from exc


def cmd_purge(args: argparse.Namespace, settings: Settings) -> int:
    from soapsms.domain.retention import parse_retention
    from soapsms.usecases.retention import purge

    # A wrong period is said before the store is opened.
    retention = parse_retention(args.older_than or settings.retention)
    batch_size = values.convert("--batch-size", values.Integer(low=1), args.batch_size)
    cutoff = retention.cutoff(datetime.now(UTC).replace(tzinfo=None))
    with runtime(settings) as rt:
        if not args.dry_run:
            confirm(
                args,
                f"delete message data created before {cutoff:%Y-%m-%d} UTC "
                f"(retention {retention}) from {safe_url(settings.database_url)}",
            )
        shown = Progress("purge")

        def say(line: str) -> None:
            shown.finish()
            print(line, flush=True)

        def on_rows(table: str, done: int, total: int | None) -> None:
            shown.label = f"purge {table}"
            shown.update(done, done / total if total else None)

        try:
            report = purge(
                rt,
                args.older_than,
                dry_run=args.dry_run,
                batch_size=batch_size,
                progress=say,
                on_rows=on_rows if shown.enabled else None,
            )
        finally:
            shown.finish()
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
