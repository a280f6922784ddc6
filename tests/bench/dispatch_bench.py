"""Dispatcher throughput: QUEUED -> SUBMITTED through the SMPP connector.

Stores N queued messages, then runs one dispatcher whose only route is our
SMPP connector (window 10) to the loopback npm SMSC, and times how long
until every message has left QUEUED; on SQLite and on PostgreSQL. In the
same run the same SMSC is driven directly by smpplib with the same window
(the ceiling, from smpp_bench). Prints medians; targets: at least 60% of the
ceiling, and at least 1,000 messages/s on PostgreSQL. A benchmark, not a
test: pytest never collects it.

    .venv/bin/python tests/bench/dispatch_bench.py [--messages 5000] [--runs 3]

With SOAPSMS_BENCH_SOAPSMS=DIR the soapsms package is imported from DIR
(tests/bench/dispatch_ab.py measures another revision that way), and
--json prints the medians as one JSON line last.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import sqlalchemy
from sqlalchemy import func, select

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # for tests.*
if os.environ.get("SOAPSMS_BENCH_SOAPSMS"):  # another revision's soapsms
    sys.path.insert(0, os.environ["SOAPSMS_BENCH_SOAPSMS"])

from soapsms.config import ConnectorConfig, Routes, Settings  # noqa: E402
from soapsms.dispatch.worker import Dispatcher  # noqa: E402
from soapsms.store.db import transaction  # noqa: E402
from soapsms.store.migrate import upgrade  # noqa: E402
from soapsms.store.models import Message, StatusHistory  # noqa: E402
from soapsms.usecases import accounts, send  # noqa: E402
from soapsms.usecases.runtime import Runtime  # noqa: E402
from tests.bench.cpu import snapshot, steal_note  # noqa: E402
from tests.bench.smpp_bench import WINDOW, through_smpplib  # noqa: E402
from tests.smsc.npm import NpmSmsc, NpmUnavailable, install  # noqa: E402

try:  # dispatch_ab.py runs this bench on revisions from before usecases.requests
    from soapsms.usecases.requests import SendRequest
except ModuleNotFoundError:
    from soapsms.usecases.results import SendRequest  # type: ignore[attr-defined,no-redef]

POSTGRES = "postgresql://postgres@127.0.0.1:5432/test"
TARGET_RATIO = 0.60
TARGET_PG = 1000.0


@contextmanager
def store(kind: str) -> Iterator[str]:
    """A fresh database URL: a temp SQLite file, or a new PostgreSQL database."""
    if kind == "sqlite":
        with tempfile.TemporaryDirectory() as tmp:
            yield f"sqlite:///{tmp}/bench.db"
        return
    admin = sqlalchemy.create_engine(
        POSTGRES.replace("postgresql://", "postgresql+psycopg://", 1),
        isolation_level="AUTOCOMMIT",
    )
    name = f"soapsms_dbench_{uuid.uuid4().hex[:8]}"
    with admin.connect() as conn:
        conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
    try:
        yield (
            sqlalchemy.engine.make_url(POSTGRES)
            .set(database=name)
            .render_as_string(hide_password=False)
        )
    finally:
        with admin.connect() as conn:
            conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.dispose()


def _runtime(url: str, smsc_port: int) -> Runtime:
    options = {
        "host": "127.0.0.1",
        "port": str(smsc_port),
        "system_id": "bench",
        "window": str(WINDOW),
    }
    routes = Routes(
        connectors=(ConnectorConfig("smsc", "smpp", tuple(options.items())),),
        table=(("", ("smsc",)),),
    )
    rt = Runtime(Settings(database_url=url, routes=routes, argon2_memory_kib=64))
    upgrade(rt.engine)
    return rt


def _queue(rt: Runtime, count: int) -> None:
    """`count` QUEUED messages, stored through SendMessage's own use case."""
    view = accounts.create_account(rt, f"bench{uuid.uuid4().hex[:6]}", "pw")
    for start in range(0, count, 1000):
        numbers = tuple(f"+1555{n:07d}" for n in range(start, min(count, start + 1000)))
        send.submit_message(
            rt, view, SendRequest(text="Server web01 is down", recipients=numbers)
        )


def _queued(rt: Runtime) -> int:
    with transaction(rt.engine) as conn:
        return int(
            conn.scalar(
                select(func.count())
                .select_from(Message)
                .where(Message.status == "QUEUED")
            )
            or 0
        )


@dataclass
class Usage:
    """CPU microseconds a message cost during a run, by whom."""

    own: float = 0.0  # this process: the dispatcher, or smpplib's client
    smsc: float = 0.0
    postgres: float = 0.0
    machine: float = 0.0


class _Meter:
    """CPU used between start() and stop() by this process, the SMSC's
    process and PostgreSQL's, and the whole machine."""

    def __init__(self, smsc_pid: int) -> None:
        self.smsc_pid = smsc_pid

    def _process(self) -> float:
        fields = Path(f"/proc/{self.smsc_pid}/stat").read_text().rsplit(")", 1)[1]
        values = fields.split()
        return (int(values[11]) + int(values[12])) / os.sysconf("SC_CLK_TCK")

    def start(self) -> None:
        self._own, self._smsc, self._all = (
            time.process_time(),
            self._process(),
            snapshot(),
        )

    def stop(self, messages: int) -> Usage:
        after = snapshot()
        per = 1e6 / messages
        return Usage(
            (time.process_time() - self._own) * per,
            (self._process() - self._smsc) * per,
            (after.postgres - self._all.postgres) * per,
            (after.busy - self._all.busy) * per,
        )


def _last_left_queue(rt: Runtime) -> datetime:
    """When the last message left QUEUED, as the dispatcher recorded it."""
    with transaction(rt.engine) as conn:
        return conn.scalar(
            select(func.max(StatusHistory.occurred_at)).where(
                StatusHistory.status.in_(("SUBMITTED", "REJECTED", "FAILED"))
            )
        )


def dispatch_rate(
    url: str, smsc_port: int, count: int, meter: _Meter | None = None
) -> tuple[float, Usage]:
    """Messages/s from QUEUED to SUBMITTED for one dispatcher, and the CPU
    it took.

    The end is the time of the last submission in the status history, so
    that the bench can look for the end only now and then: its count of
    QUEUED messages costs the database a few milliseconds, and every 20 ms
    that took a tenth of a core from the dispatcher it measured.
    """
    rt = _runtime(url, smsc_port)
    try:
        _queue(rt, count)
        dispatcher = Dispatcher(rt, callbacks=False)
        thread = threading.Thread(target=dispatcher.run, daemon=True)
        started = rt.now()
        if meter:
            meter.start()
        thread.start()
        deadline = time.perf_counter() + 300
        while _queued(rt) and time.perf_counter() < deadline:
            time.sleep(0.25)
        usage = meter.stop(count) if meter else Usage()
        dispatcher.stop()
        thread.join(60)
        if _queued(rt):
            raise RuntimeError("messages were still QUEUED after 300 s")
        return count / (_last_left_queue(rt) - started).total_seconds(), usage
    finally:
        rt.close()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=5000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--json", action="store_true", help="medians as JSON, last")
    args = parser.parse_args()
    try:
        node = install()
    except NpmUnavailable as exc:
        print(f"dispatch bench skipped: {exc}", file=sys.stderr)
        return 2
    smsc = NpmSmsc(node, quiet=True)
    rates: dict[str, list[float]] = {"smpplib": [], "sqlite": [], "postgres": []}
    usages: dict[str, list[Usage]] = {"smpplib": [], "sqlite": [], "postgres": []}
    meter = _Meter(smsc.process.pid)
    first = snapshot()
    try:
        through_smpplib(smsc.port, 1000)  # warm-up
        for _ in range(args.runs):
            meter.start()
            rates["smpplib"].append(through_smpplib(smsc.port, args.messages))
            usages["smpplib"].append(meter.stop(args.messages))
            for kind in ("sqlite", "postgres"):
                try:
                    with store(kind) as url:
                        rate, usage = dispatch_rate(
                            url, smsc.port, args.messages, meter
                        )
                    rates[kind].append(rate)
                    usages[kind].append(usage)
                except sqlalchemy.exc.OperationalError as exc:
                    print(f"{kind} skipped: {exc.orig}", file=sys.stderr)
    finally:
        smsc.close()
    ceiling = statistics.median(rates["smpplib"])
    print(
        f"Dispatcher QUEUED->SUBMITTED via SMPP, window {WINDOW}, "
        f"{args.messages} messages x {args.runs} runs (medians)"
    )
    print(f"  smpplib alone (ceiling)   {ceiling:8.0f} /s")
    for kind in ("sqlite", "postgres"):
        if not rates[kind]:
            continue
        rate = statistics.median(rates[kind])
        ratio = rate / ceiling
        verdict = "met" if ratio >= TARGET_RATIO else "NOT met"
        line = f"  dispatcher on {kind:<9}  {rate:8.0f} /s  {ratio:5.0%} of ceiling ({verdict})"
        if kind == "postgres":
            line += (
                f"; >= {TARGET_PG:.0f}/s: {'met' if rate >= TARGET_PG else 'NOT met'}"
            )
        print(line)
    print(
        "  CPU a message, microseconds (medians): own process / SMSC / PostgreSQL / machine"
    )
    for kind, runs in usages.items():
        if runs:
            figures = [
                statistics.median(getattr(u, f) for u in runs)
                for f in ("own", "smsc", "postgres", "machine")
            ]
            who = "smpplib client" if kind == "smpplib" else f"dispatcher, {kind}"
            print(f"    {who:<22} " + " / ".join(f"{v:5.0f}" for v in figures))
    print(
        f"  (2 cores give {2e6 / ceiling / TARGET_RATIO:.0f} us of machine CPU a "
        f"message at {TARGET_RATIO:.0%} of the ceiling)"
    )
    for line in steal_note(first, snapshot()):
        print(f"  {line}")
    if args.json:
        print(
            json.dumps(
                {
                    kind: {
                        "rate": statistics.median(rates[kind]),
                        **{
                            f: statistics.median(getattr(u, f) for u in usages[kind])
                            for f in ("own", "smsc", "postgres", "machine")
                        },
                    }
                    for kind in rates
                    if rates[kind]
                }
            )
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
