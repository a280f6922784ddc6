"""Closed-loop HTTP load with wrk: one envelope POSTed over and over."""

from __future__ import annotations

import re
import shutil
import statistics
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

CONNECTIONS = 16
THREADS = 2
INSTALL_HINT = "apt-get update && apt-get install -y wrk"

_UNITS_MS = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60_000.0}
_LATENCY = re.compile(r"^\s*(50|99)%\s+([\d.]+)(us|ms|s|m)\s*$", re.MULTILINE)
_RATE = re.compile(r"^Requests/sec:\s+([\d.]+)", re.MULTILINE)
_TOTAL = re.compile(r"^\s*(\d+) requests in", re.MULTILINE)
_NON_2XX = re.compile(r"Non-2xx or 3xx responses:\s+(\d+)")
_SOCKET = re.compile(
    r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)"
)


@dataclass(frozen=True)
class Load:
    """What one wrk run measured."""

    requests_per_second: float
    p50_ms: float
    p99_ms: float
    requests: int
    errors: int  # non-2xx answers and socket errors


def median(runs: Sequence[Load]) -> Load:
    """Each figure's median over `runs`; requests and errors summed."""
    return Load(
        statistics.median(r.requests_per_second for r in runs),
        statistics.median(r.p50_ms for r in runs),
        statistics.median(r.p99_ms for r in runs),
        sum(r.requests for r in runs),
        sum(r.errors for r in runs),
    )


def wrk_path() -> str | None:
    """Where wrk is, or None."""
    return shutil.which("wrk")


def _lua(body: bytes, action: str) -> str:
    text = body.decode()
    assert "]==]" not in text
    return (
        'wrk.method = "POST"\n'
        'wrk.headers["Content-Type"] = "text/xml; charset=utf-8"\n'
        f'wrk.headers["SOAPAction"] = \'"{action}"\'\n'
        f"wrk.body = [==[{text}]==]\n"
    )


def parse(output: str) -> Load:
    """Figures from `wrk --latency` output."""
    latency = {q: float(v) * _UNITS_MS[u] for q, v, u in _LATENCY.findall(output)}
    rate, total = _RATE.search(output), _TOTAL.search(output)
    if rate is None or total is None or set(latency) != {"50", "99"}:
        raise RuntimeError(f"cannot read wrk output:\n{output}")
    non_2xx = _NON_2XX.search(output)
    sockets = _SOCKET.search(output)
    errors = int(non_2xx.group(1)) if non_2xx else 0
    errors += sum(int(n) for n in sockets.groups()) if sockets else 0
    return Load(
        float(rate.group(1)), latency["50"], latency["99"], int(total.group(1)), errors
    )


def run(url: str, body: bytes, action: str, seconds: float, workdir: Path) -> Load:
    """POST `body` to `url` for `seconds` over 16 connections, 2 threads."""
    script = workdir / f"{action}.lua"
    script.write_text(_lua(body, action))
    wrk = wrk_path()
    if wrk is None:
        raise RuntimeError(f"wrk is not installed: {INSTALL_HINT}")
    command = [
        wrk,
        f"-t{THREADS}",
        f"-c{CONNECTIONS}",
        f"-d{seconds:g}s",
        "--latency",
        "-s",
        str(script),
        url,
    ]
    done = subprocess.run(
        command, capture_output=True, text=True, check=True, timeout=seconds + 60
    )
    return parse(done.stdout)
