"""Where the machine's CPU went during a run: the whole machine, the
PostgreSQL server's processes (which share the cores with the gateway), and
what the host's hypervisor gave to its other guests (steal)."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

_TICKS = os.sysconf("SC_CLK_TCK")


@dataclass(frozen=True)
class Snapshot:
    busy: float  # CPU seconds the machine spent not idle, all cores
    total: float  # CPU seconds that passed, all cores
    postgres: float  # CPU seconds of every `postgres` process so far
    # CPU seconds this machine's cores were ready to run but the host ran
    # another guest: counted in `busy`, done by nobody here.
    steal: float


def _machine() -> tuple[float, float, float]:
    fields = [int(v) for v in Path("/proc/stat").read_text().split("\n")[0].split()[1:]]
    idle = fields[3] + fields[4]  # idle + iowait
    total = sum(fields[:8])  # guest time is already counted in user
    return (total - idle) / _TICKS, total / _TICKS, fields[7] / _TICKS


def _postgres() -> float:
    seconds = 0.0
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            text = (entry / "stat").read_text()
        except OSError:
            continue  # gone, or not ours to read
        name, _, rest = text.partition(") ")
        if name.endswith("(postgres"):
            values = rest.split()
            seconds += (int(values[11]) + int(values[12])) / _TICKS
    return seconds


def snapshot() -> Snapshot:
    busy, total, steal = _machine()
    return Snapshot(busy, total, _postgres(), steal)


@dataclass(frozen=True)
class Spent:
    """CPU milliseconds per request over one run, and how busy the machine was."""

    machine_ms: float
    postgres_ms: float
    busy_share: float
    steal_share: float


def spent(before: Snapshot, after: Snapshot, requests: int) -> Spent:
    per = 1000.0 / max(requests, 1)
    total = after.total - before.total
    return Spent(
        (after.busy - before.busy) * per,
        (after.postgres - before.postgres) * per,
        (after.busy - before.busy) / total if total > 0 else 0.0,
        steal_share(before, after),
    )


# Above this share of stolen CPU time the host, not the code, set the figures.
STEAL_WARNING = 0.05


def steal_share(before: Snapshot, after: Snapshot) -> float:
    """The share of the cores' time between the snapshots that the host gave
    to other guests."""
    total = after.total - before.total
    return (after.steal - before.steal) / total if total > 0 else 0.0


def steal_note(before: Snapshot, after: Snapshot) -> list[str]:
    """Lines saying how much CPU the host took, with a warning past the limit."""
    share = steal_share(before, after)
    lines = [f"host steal: {share:.0%} of the cores' time went to other guests"]
    if share > STEAL_WARNING:
        lines.append(
            "WARNING: the host took CPU time during the runs; rates and ratios "
            "measured now are not comparable with other runs"
        )
    return lines
