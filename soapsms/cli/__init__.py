"""The `soapsms` command: serve, smtp, snpp, dispatch, db, account, messages,
report, purge, wsdl, admin, connector."""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence

from soapsms import errors
from soapsms.cli import accounts, console, data, messages, services
from soapsms.config import load_settings, unknown_variables
from soapsms.logs import configure as configure_logs
from soapsms.supervisor import bind_to_parent

logger = logging.getLogger("soapsms")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="soapsms", description=__doc__)
    parser.add_argument("--version", action="version", version=_version())
    parser.add_argument(
        "--config", help="INI file with a [soapsms] section (or SOAPSMS_CONFIG)"
    )
    sub = parser.add_subparsers(dest="command", required=True)
    services.add_parsers(sub)
    data.add_parsers(sub)
    messages.add_parser(sub)
    console.add_parsers(sub)
    accounts.add_parsers(sub)
    return parser


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("soapsms")
    except PackageNotFoundError:  # pragma: no cover - run from a bare checkout
        return "unknown"


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    command = args.subparser if hasattr(args, "subparser") else parser
    if args.command == "account":
        accounts.check_args(args, command)
    try:
        settings = load_settings(args.config)
        configure_logs(settings.log_level, settings.log_format)
        if args.func is not data.cmd_db_upgrade:  # its migration steps are worth seeing
            logging.getLogger("alembic").setLevel(logging.WARNING)
        # A companion of `soapsms serve` dies with it (soapsms.supervisor);
        # first, as it takes serve's own variable out of the environment.
        bind_to_parent()
        for name in unknown_variables():
            logger.warning("%s names no setting and is ignored (a typo?)", name)
        return int(args.func(args, settings))
    except errors.SoapsmsError as exc:
        print(f"soapsms: {exc.message}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("soapsms: interrupted", file=sys.stderr)
        return 130
