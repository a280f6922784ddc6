"""`make bench`, the web pages: each customer-portal page's median answer time
on a store seeded with 10^6 messages (SQLite, and PostgreSQL when reachable),
beside the issue's target of 300 ms. Calls the WSGI app in-process (no
network), after one login; a download is timed to its first chunk.
A benchmark, not a test: pytest never collects it.
"""

from __future__ import annotations

import argparse
import random
import re
import statistics
import sys
import tempfile
import time
from pathlib import Path

import seed
import stores
from werkzeug.test import Client

from soapsms.config import Settings
from soapsms.usecases.runtime import Runtime
from soapsms.wsgi import create_app

TARGET_MS = 300.0
RUNS = 15
_TOKEN = re.compile(r'name="csrf_token" value="([^"]+)"')


def say(text: str) -> None:
    print(text, flush=True)


def _client(rt: Runtime) -> Client:
    client = Client(create_app(runtime=rt))
    page = client.get("/portal/login").get_data(as_text=True)
    token = _TOKEN.search(page)
    assert token is not None
    done = client.post(
        "/portal/login",
        data={
            "csrf_token": token[1],
            "account_id": "bench",
            "password": "bench-password-1",
        },
    )
    assert done.status_code == 302, done.get_data(as_text=True)
    return client


def _first_row(client: Client) -> dict[str, str]:
    """A message of the bench account, its batch and recipient, from the list."""
    html = client.get("/portal/messages?status=DELIVERED").get_data(as_text=True)
    found = {}
    for name in ("message_id", "batch_id", "recipient"):
        cell = re.search(rf'data-field="{name}">(?:<a[^>]*>)?([^<]+)<', html)
        assert cell is not None, name
        found[name] = cell[1].strip()
    return found


def _pages(client: Client, rt: Runtime) -> list[tuple[str, str]]:
    row = _first_row(client)
    today = rt.now().date()
    return [
        ("dashboard", "/portal/"),
        ("send form", "/portal/send"),
        ("messages", "/portal/messages"),
        ("messages, status FAILED", "/portal/messages?status=FAILED"),
        ("messages, recipient", f"/portal/messages?recipient={row['recipient']}"),
        ("messages, batch", f"/portal/messages?batch={row['batch_id']}"),
        ("messages, this month", f"/portal/messages?since={today.replace(day=1)}"),
        ("message page", f"/portal/messages/{row['message_id']}"),
        ("batch page", f"/portal/batches/{row['batch_id']}"),
        ("reports (30 days by day)", "/portal/reports"),
        ("report download CSV, first chunk", "/portal/reports/download"),
        ("inbound", "/portal/inbound"),
        ("settings", "/portal/settings"),
    ]


def _time(client: Client, path: str, runs: int) -> list[float]:
    spent = []
    for _ in range(runs):
        started = time.perf_counter()
        response = client.get(path, buffered=False)
        assert response.status_code == 200, (path, response.status_code)
        next(iter(response.response), b"")
        spent.append((time.perf_counter() - started) * 1000)
        response.close()
    return spent


def bench(name: str, url: str, size: int, runs: int, fresh: bool = True) -> list[str]:
    if fresh:
        say(f"{name}: seeding {size:,} messages")
        seeded = seed.seed(url, size, random.Random(1))
        say(f"{name}: seeded in {seeded.seconds:.0f} s")
    rt = Runtime(Settings(database_url=url, carrier="simulator"))
    try:
        client = _client(rt)
        lines = []
        for label, path in _pages(client, rt):
            spent = _time(client, path, runs)
            median = statistics.median(spent)
            mark = "ok" if median < TARGET_MS else "OVER"
            line = f"| {name} | {label} | {median:.1f} | {max(spent):.1f} | {mark} |"
            say(line)
            lines.append(line)
        return lines
    finally:
        rt.close()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--size", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=RUNS)
    parser.add_argument("--sqlite-only", action="store_true")
    parser.add_argument(
        "--url", help="a store seeded before (tests/bench/seed.py), measured as it is"
    )
    args = parser.parse_args()
    rows: list[str] = []
    if args.url:
        rows = bench("given store", args.url, args.size, args.runs, fresh=False)
        args.sqlite_only = True
    else:
        with tempfile.TemporaryDirectory(prefix="soapsms-web-bench-") as tmp:
            with stores.sqlite_database(Path(tmp), "web") as url:
                rows += bench("SQLite", url, args.size, args.runs)
    unreachable = None if args.sqlite_only else stores.postgres_unreachable()
    if not args.sqlite_only and unreachable is None:
        with stores.postgres_database() as url:
            rows += bench("PostgreSQL", url, args.size, args.runs)
    elif unreachable:
        say(f"PostgreSQL skipped: {unreachable}")
    say("")
    say(f"Portal pages on {args.size:,} messages: median and worst of {args.runs} (ms)")
    say("| store | page | median | max | < 300 ms |")
    say("| --- | --- | ---: | ---: | --- |")
    for row in rows:
        say(row)
    return 0 if all(r.endswith("ok |") for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
