"""`soapsms serve|smtp|snpp|dispatch`: the long-running processes."""

from __future__ import annotations

import argparse
from typing import Any

from soapsms import errors
from soapsms.cli.common import runtime
from soapsms.config import Settings, read_flag


def add_parsers(sub: Any) -> None:
    serve = sub.add_parser("serve", help="run the gateway under gunicorn")
    serve.add_argument("--bind", help="HOST:PORT (default from config, 127.0.0.1:8000)")
    serve.add_argument("--workers", help="gunicorn worker processes")
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
    serve.add_argument(
        "--snpp-bind",
        help="HOST:PORT of the SNPP ingress started beside it (default from "
        "config, 127.0.0.1:4444), or off",
    )
    serve.set_defaults(func=cmd_serve)

    smtp = sub.add_parser("smtp", help="run the SMTP ingress (e-mail to SMS)")
    smtp.add_argument("--bind", help="HOST:PORT (default from config, 127.0.0.1:2525)")
    smtp.set_defaults(func=cmd_smtp)

    snpp = sub.add_parser("snpp", help="run the SNPP ingress (RFC 1861 paging to SMS)")
    snpp.add_argument("--bind", help="HOST:PORT (default from config, 127.0.0.1:4444)")
    snpp.set_defaults(func=cmd_snpp)

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


def cmd_serve(args: argparse.Namespace, settings: Settings) -> int:
    from soapsms.serve import serve

    changes: dict[str, Any] = {}
    if args.bind is not None:
        changes["bind"] = read_flag("--bind", "bind", args.bind)
    if args.workers is not None:
        changes["workers"] = read_flag("--workers", "workers", args.workers)
    # Processes that run once beside the web workers, as `soapsms <argv…>`.
    companions: list[list[str]] = []
    if args.dispatch == "on":
        # --wait: restarted while its predecessor still finishes (SQLite).
        companions.append(["dispatch", "--wait"])
    for name, given in (("smtp", args.smtp_bind), ("snpp", args.snpp_bind)):
        bind = _bind(settings, f"{name}_bind", f"--{name}-bind", given)
        if bind != "off":
            companions.append([name, "--bind", bind])
    if args.config:
        companions = [["--config", args.config, *argv] for argv in companions]
    return serve(settings.replace(**changes) if changes else settings, companions)


def _bind(settings: Settings, key: str, flag: str, given: str | None) -> str:
    """The listener address setting `key`, or what `flag` gave instead."""
    return read_flag(flag, key, given) if given else str(getattr(settings, key))


def _listen(settings: Settings, key: str, given: str | None) -> str:
    """The address an ingress command listens on; refused when it is off."""
    bind = _bind(settings, key, "--bind", given)
    if bind == "off":
        raise errors.ConfigError(f"{key} is off; give --bind HOST:PORT")
    return bind


def cmd_smtp(args: argparse.Namespace, settings: Settings) -> int:
    from soapsms.smtp_ingress.server import run

    bind = _listen(settings, "smtp_bind", args.bind)
    with runtime(settings) as rt:
        return run(rt, bind)


def cmd_snpp(args: argparse.Namespace, settings: Settings) -> int:
    from soapsms.snpp_ingress.server import run

    bind = _listen(settings, "snpp_bind", args.bind)
    with runtime(settings) as rt:
        return run(rt, bind)


def cmd_dispatch(args: argparse.Namespace, settings: Settings) -> int:
    from soapsms.dispatch.worker import run_dispatcher
    from soapsms.serve import warn_no_carrier

    bind = settings.dispatch_metrics_bind
    if args.metrics_bind is not None:
        bind = read_flag("--metrics-bind", "dispatch_metrics_bind", args.metrics_bind)
    if not settings.routes.configured():
        warn_no_carrier()
    with runtime(settings) as rt:
        return run_dispatcher(rt, wait=args.wait, metrics_bind=bind)
