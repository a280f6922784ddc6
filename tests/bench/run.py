"""`make bench`: SendMessage load, one 10,000-recipient send and a 1,000-id GetStatus.

Each on SQLite and PostgreSQL, each at 10^4 and 10^6 seeded messages, beside
a bare Spyne echo service under the same gunicorn settings; prints one table
of medians with the targets. A benchmark, not a test: pytest never collects it.
"""

from __future__ import annotations

import argparse
import os
import random
import sys
import tempfile
import time
from contextlib import AbstractContextManager, ExitStack
from pathlib import Path

import cpu
import load
import report
import seed
import servers
import stores
import throughput
import timing
from servers import Server

from soapsms.usecases.runtime import utc_now

BIG_SEND = 10_000
STATUS_IDS = 1_000
# Nine, not five: the 10^6/10^4 ratio of (b) is judged within 10%, and five
# runs' medians moved by more than that between two runs of the same code.
SEND_RUNS = 9
STATUS_RUNS = 20
# Above this one-minute load average at start, others were using the cores.
BUSY_LOAD = 1.0


def say(text: str) -> None:
    """Progress, as it happens."""
    print(text, flush=True)


def _database(backend: str, workdir: Path, size: int) -> AbstractContextManager[str]:
    if backend == "sqlite":
        return stores.sqlite_database(workdir, f"bench-{size}")
    return stores.postgres_database()


def _throughput(
    name: str, url: str, gateway: Server, echo: Server, seconds: float, workdir: Path
) -> tuple[throughput.Paired, list[str]]:
    """(a), then the store back to its seeded size."""
    say(
        f"{name}: (a) SendMessage load, soapsms and echo alternately, "
        f"{throughput.REPEATS} x {seconds:g} s each"
    )
    started = utc_now()
    before = stores.count_messages(url)
    pair = throughput.paired(gateway, echo, seconds, workdir)
    stored = stores.count_messages(url) - before
    stores.forget_since(url, started)
    answered = sum(r.load.requests for r in pair.gateway)
    errors = sum(r.load.errors for r in pair.gateway + pair.echo)
    stolen = [
        f"{name}: WARNING: the host took {share:.0%} of the cores' time during "
        f"{who}'s (a) runs (median); its rate is the host's, not the code's"
        for who, runs in (("soapsms", pair.gateway), ("the echo", pair.echo))
        if (share := throughput.steal(runs)) > cpu.STEAL_WARNING
    ]
    return pair, stolen + [
        f"{name}: (a) soapsms runs: {throughput.describe(pair.gateway)}",
        f"{name}: (a) echo runs:    {throughput.describe(pair.echo)}",
        f"{name}: (a) CPU a request, soapsms: {throughput.cpu_per_request(pair.gateway)}",
        f"{name}: (a) CPU a request, echo:    {throughput.cpu_per_request(pair.echo)}",
        f"{name}: (a) {answered:,} SendMessage answered in measured runs, "
        f"{stored:,} messages stored with warm-ups; {errors} errors",
    ]


def _big_send(name: str, url: str, gateway: Server) -> timing.Timings:
    """(b): one warm-up, then SEND_RUNS timed; each run's messages removed after."""
    say(f"{name}: (b) SendMessage to {BIG_SEND:,} recipients x {SEND_RUNS}")
    started = utc_now()
    timing.check_send(gateway.url, BIG_SEND)
    stores.forget_since(url, started)
    return timing.send_many(
        gateway.url, BIG_SEND, SEND_RUNS, lambda: stores.forget_since(url, started)
    )


def _status(
    name: str, gateway: Server, ids: list[str], rng: random.Random
) -> timing.Timings:
    """(c): GetStatus of a fresh random sample of existing ids in every run."""
    say(f"{name}: (c) GetStatus of {STATUS_IDS:,} ids x {STATUS_RUNS}")
    samples = [rng.sample(ids, STATUS_IDS) for _ in range(STATUS_RUNS + 2)]
    timing.get_status(gateway.url, samples[:2])  # warm-up
    return timing.get_status(gateway.url, samples[2:])


def _measure_store(
    backend: str, size: int, url: str, echo: Server, workdir: Path, seconds: float
) -> tuple[report.Measured, list[str]]:
    """Seed a fresh store and run (a), (b), (c) against it: figures and notes."""
    name = f"{backend} {report.size_name(size)}"
    rng = random.Random(size)
    say(f"{name}: seeding {size:,} messages")
    seeded = seed.seed(url, size, rng)
    notes = [f"{name}: seeded in {seeded.seconds:.1f} s; {stores.durability(url)}"]
    with servers.soapsms(url, workdir / f"soapsms-{backend}-{size}.log") as gateway:
        timing.check_send(gateway.url, 1)
        pair, more = _throughput(name, url, gateway, echo, seconds, workdir)
        notes.extend(more)
        before = cpu.snapshot()
        send = _big_send(name, url, gateway)
        status = _status(name, gateway, seeded.bench_ids, rng)
        share = cpu.steal_share(before, cpu.snapshot())
        if share > cpu.STEAL_WARNING:
            notes.append(
                f"{name}: WARNING: the host took {share:.0%} of the cores' time "
                "during (b) and (c); their times are the host's, not the code's"
            )
    gateway_load = load.median([r.load for r in pair.gateway])
    echo_load = load.median([r.load for r in pair.echo])
    measured = report.Measured(backend, size, gateway_load, echo_load, send, status)
    return measured, notes


def _run_all(
    args: argparse.Namespace, results: list[report.Measured], notes: list[str]
) -> None:
    """Every store at every size, beside one echo server; appends as it goes."""
    sizes = [int(s) for s in args.sizes.split(",")]
    with ExitStack() as stack:
        workdir = Path(
            stack.enter_context(tempfile.TemporaryDirectory(prefix="soapsms-bench-"))
        )
        echo = stack.enter_context(servers.echo(workdir / "echo.log"))
        timing.check_send(echo.url, 1)
        for backend in args.backends.split(","):
            if backend == "postgresql":
                reason = stores.postgres_unreachable()
                if reason is not None:
                    notes.append(f"PostgreSQL skipped, unreachable: {reason}")
                    say(notes[-1])
                    continue
            for size in sizes:
                with _database(backend, workdir, size) as url:
                    measured, more = _measure_store(
                        backend, size, url, echo, workdir, args.seconds
                    )
                results.append(measured)
                notes.extend(more)


def main(argv: list[str] | None = None) -> int:
    """Run every measurement once and print the table (what was measured, on error)."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sizes", default="10000,1000000", help="seeded messages")
    parser.add_argument("--backends", default="sqlite,postgresql")
    parser.add_argument("--seconds", type=float, default=10.0, help="per wrk run")
    args = parser.parse_args(argv)
    if load.wrk_path() is None:
        print(f"wrk is not installed; install it with: {load.INSTALL_HINT}")
        return 2
    started = time.perf_counter()
    busy_at_start = os.getloadavg()[0]
    first = cpu.snapshot()
    results: list[report.Measured] = []
    notes = [
        f"(a): medians of {throughput.REPEATS} alternating {args.seconds:g} s wrk runs "
        f"per server, {load.CONNECTIONS} connections, {load.THREADS} threads; "
        "(b), (c): median (min-max) of the runs",
        f"machine: {os.cpu_count()} cores, load average at start "
        f"{busy_at_start:.2f} (other processes share these cores)",
    ]
    try:
        _run_all(args, results, notes)
    finally:
        elapsed = time.perf_counter() - started
        say("")
        if results:
            say(report.table(results))
            say("")
        for note in notes:
            say(f"  {note}")
        say(
            f"  load average at end {os.getloadavg()[0]:.2f} (the bench's own included)"
        )
        if busy_at_start > BUSY_LOAD:
            say("  WARNING: the machine was busy at start; figures are not comparable")
        for line in cpu.steal_note(first, cpu.snapshot()):
            say(f"  {line}")
        say(f"  total runtime {elapsed / 60:.1f} min ({elapsed:.0f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
