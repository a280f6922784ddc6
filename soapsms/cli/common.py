"""What the commands share: a checked runtime, passwords, confirmations."""

from __future__ import annotations

import argparse
import getpass
import sys
from contextlib import closing

from soapsms import errors
from soapsms.config import Settings
from soapsms.usecases.runtime import Runtime


def runtime(settings: Settings) -> closing[Runtime]:
    """A runtime whose connections are closed when the command is done, on a
    store checked first: a missing database, role or schema is said plainly
    (and no empty SQLite file is left behind)."""
    from soapsms.store.readiness import check_ready

    rt = Runtime(settings)
    try:
        check_ready(rt.engine)
    except BaseException:
        rt.close()
        raise
    return closing(rt)


def password(args: argparse.Namespace) -> str:
    """From --password, --password-file, --password-stdin (first line), or a
    prompt on the terminal."""
    if args.password is not None:
        return str(args.password)
    if args.password_file is not None:
        try:
            with open(args.password_file, encoding="utf-8") as f:
                return _one_line(f.readline(), args.password_file)
        except OSError as exc:
            raise errors.ValidationError(
                f"cannot read {args.password_file}: {exc.strerror}"
            ) from exc
    if args.password_stdin:
        return _one_line(sys.stdin.readline(), "standard input")
    if not sys.stdin.isatty():
        raise errors.ValidationError(
            "no terminal to ask for the password on: give --password-stdin, "
            "--password-file FILE or --password PW"
        )
    first = getpass.getpass("Password: ")
    if getpass.getpass("Repeat password: ") != first:
        raise errors.ValidationError("the passwords differ")
    return first


def password_options(p: argparse.ArgumentParser) -> None:
    way = p.add_mutually_exclusive_group()
    way.add_argument(
        "--password", help="visible to other users in `ps`; prefer the next two"
    )
    way.add_argument(
        "--password-stdin", action="store_true", help="read it from standard input"
    )
    way.add_argument("--password-file", help="read it from the file's first line")


def confirm(args: argparse.Namespace, what: str) -> None:
    """Go on with --yes, or after a "yes" typed on the terminal."""
    if args.yes:
        return
    if not sys.stdin.isatty():
        raise errors.ValidationError(f"{what}: confirm with --yes (no terminal to ask)")
    if input(f"{what}? type yes to go on: ").strip().lower() != "yes":
        raise errors.ValidationError(f"{what}: not confirmed; nothing changed")


def _one_line(line: str, source: str) -> str:
    password = line.rstrip("\r\n")
    if not password:
        raise errors.ValidationError(f"no password in {source}")
    return password


def safe_url(url: str) -> str:
    from sqlalchemy.engine import make_url

    from soapsms.store.db import normalize_url

    return make_url(normalize_url(url)).render_as_string(hide_password=True)
