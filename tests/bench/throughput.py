"""(a): one SendMessage load against soapsms and against the echo ceiling, paired."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import cpu
import envelopes
import load
from servers import Server

# Five, not three: on this shared machine one run in a few is 10-20% off
# either way, for the echo as for soapsms, and the median is of these runs.
REPEATS = 5
WARMUP_SECONDS = 2.0
RECIPIENT = "+17036069996"


@dataclass(frozen=True)
class Run:
    """One wrk run, the busiest worker's share of the workers' CPU time, and
    the CPU time a request cost: the workers', PostgreSQL's, the machine's."""

    load: load.Load
    busiest_share: float
    workers_ms: float
    spent: cpu.Spent


@dataclass(frozen=True)
class Paired:
    """Alternating runs: echo, soapsms, echo, soapsms, ..."""

    gateway: list[Run]
    echo: list[Run]


def _run(server: Server, seconds: float, workdir: Path) -> Run:
    body = envelopes.send_message([RECIPIENT])
    before, machine = server.worker_cpu(), cpu.snapshot()
    result = load.run(server.url + "/soap", body, "SendMessage", seconds, workdir)
    after, machine_after = server.worker_cpu(), cpu.snapshot()
    used = [after[p] - before.get(p, 0.0) for p in after]
    share = max(used) / sum(used) if used and sum(used) > 0 else 1.0
    workers_ms = 1000.0 * sum(used) / max(result.requests, 1)
    spent = cpu.spent(machine, machine_after, result.requests)
    return Run(result, share, workers_ms, spent)


def paired(gateway: Server, echo: Server, seconds: float, workdir: Path) -> Paired:
    """A warm-up of each, then REPEATS alternating measured runs of each."""
    _run(echo, WARMUP_SECONDS, workdir)
    _run(gateway, WARMUP_SECONDS, workdir)
    echo_runs, gateway_runs = [], []
    for _ in range(REPEATS):
        echo_runs.append(_run(echo, seconds, workdir))
        gateway_runs.append(_run(gateway, seconds, workdir))
    return Paired(gateway_runs, echo_runs)


def describe(runs: list[Run]) -> str:
    """Per-run req/s, p99 and worker balance, for the notes."""
    return ", ".join(
        f"{r.load.requests_per_second:.0f}/s p99 {r.load.p99_ms:.0f} ms "
        f"(busiest worker {r.busiest_share:.0%}, host steal {r.spent.steal_share:.0%})"
        for r in runs
    )


def steal(runs: list[Run]) -> float:
    """The median share of the cores' time the host took during the runs."""
    return sorted(r.spent.steal_share for r in runs)[len(runs) // 2]


def cpu_per_request(runs: list[Run]) -> str:
    """Median CPU milliseconds a request cost, by whom, for the notes."""
    def median(values: list[float]) -> float:
        return sorted(values)[len(values) // 2]

    return (
        f"workers {median([r.workers_ms for r in runs]):.2f} ms, "
        f"PostgreSQL {median([r.spent.postgres_ms for r in runs]):.2f} ms, "
        f"whole machine {median([r.spent.machine_ms for r in runs]):.2f} ms "
        f"(busy {median([r.spent.busy_share for r in runs]):.0%}, "
        f"host steal {median([r.spent.steal_share for r in runs]):.0%})"
    )
