"""`make bench`, the operator console: each /admin page's median answer time
on a store seeded with 10^6 messages (SQLite, and PostgreSQL when reachable),
beside the issue's target of 300 ms; in-process like web_bench.py, whose
timing it shares. A benchmark, not a test: pytest never collects it.
"""

from __future__ import annotations

import argparse
import random
import re
import statistics
import sys
import tempfile
from pathlib import Path

import seed
import stores
from web_bench import TARGET_MS, _time
from werkzeug.test import Client

from soapsms.config import Settings
from soapsms.usecases import operators
from soapsms.usecases.operators import Actor
from soapsms.usecases.runtime import Runtime
from soapsms.wsgi import create_app

RUNS = 15
_TOKEN = re.compile(r'name="csrf_token" value="([^"]+)"')


def say(text: str) -> None:
    print(text, flush=True)


def _client(rt: Runtime) -> Client:
    operators.create(rt, Actor("cli", "bench", "cli"), "bench-op", "bench-password")
    client = Client(create_app(runtime=rt))
    page = client.get("/admin/login").get_data(as_text=True)
    token = _TOKEN.search(page)
    assert token is not None
    done = client.post(
        "/admin/login",
        data={"csrf_token": token[1], "name": "bench-op", "password": "bench-password"},
    )
    assert done.status_code == 303, done.get_data(as_text=True)
    return client


def _a_message(client: Client) -> dict[str, str]:
    """A FAILED message of the bench account, from the queue's retry list."""
    html = client.get("/admin/queue?account=bench&status=UNDELIVERED").get_data(
        as_text=True
    )
    found = re.search(r'value="bench ([0-9A-Z]{26})"', html)
    assert found is not None, html[-2000:]
    message_id = found[1]
    page = client.get(f"/admin/messages/bench/{message_id}").get_data(as_text=True)
    batch = re.search(r"kind=batch_id&amp;q=([0-9A-Z]{26})", page)
    recipient = re.search(r"<dt>Recipient</dt><dd>([^<]+)</dd>", page)
    assert batch is not None and recipient is not None
    return {"message_id": message_id, "batch_id": batch[1], "recipient": recipient[1]}


def _pages(client: Client) -> list[tuple[str, str]]:
    row = _a_message(client)
    return [
        ("carriers", "/admin/"),
        ("queue", "/admin/queue"),
        (
            "queue, an account's UNDELIVERED",
            "/admin/queue?account=bench&status=UNDELIVERED",
        ),
        ("accounts", "/admin/accounts"),
        ("account page", "/admin/accounts/bench"),
        (
            "lookup by MessageId",
            f"/admin/messages?kind=message_id&q={row['message_id']}",
        ),
        ("lookup by BatchId", f"/admin/messages?kind=batch_id&q={row['batch_id']}"),
        ("lookup by number", f"/admin/messages?kind=number&q={row['recipient']}"),
        ("lookup by reference", "/admin/messages?kind=reference&q=none-such"),
        ("message page", f"/admin/messages/bench/{row['message_id']}"),
        ("audit", "/admin/audit"),
    ]


def bench(name: str, url: str, size: int, runs: int) -> list[str]:
    say(f"{name}: seeding {size:,} messages")
    seeded = seed.seed(url, size, random.Random(1))
    say(f"{name}: seeded in {seeded.seconds:.0f} s")
    rt = Runtime(Settings(database_url=url, carrier="simulator"))
    try:
        client = _client(rt)
        lines = []
        for label, path in _pages(client):
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
    args = parser.parse_args()
    rows: list[str] = []
    with tempfile.TemporaryDirectory(prefix="soapsms-admin-bench-") as tmp:
        with stores.sqlite_database(Path(tmp), "admin") as url:
            rows += bench("SQLite", url, args.size, args.runs)
    unreachable = None if args.sqlite_only else stores.postgres_unreachable()
    if not args.sqlite_only and unreachable is None:
        with stores.postgres_database() as url:
            rows += bench("PostgreSQL", url, args.size, args.runs)
    elif unreachable:
        say(f"PostgreSQL skipped: {unreachable}")
    say("")
    say(
        f"Console pages on {args.size:,} messages: median and worst of {args.runs} (ms)"
    )
    say("| store | page | median | max | < 300 ms |")
    say("| --- | --- | ---: | ---: | --- |")
    for row in rows:
        say(row)
    return 0 if all(r.endswith("ok |") for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
