"""`make chaos`: every scenario of issue 13 against real processes, one table
each; exits 1 when a target is missed. A benchmark-like run, not a test:
pytest never collects it (tests/test_chaos_*.py run reduced versions).

    .venv/bin/python tests/chaos/run.py [--quick] [--scenario NAME ...] [--keep DIR]

PostgreSQL scenarios use SOAPSMS_TEST_POSTGRES_URL (default the local server).
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # for tests.*

from tests.chaos.scenarios import FULL, QUICK, SCENARIOS, Setup  # noqa: E402
from tests.smsc.npm import NpmUnavailable, install  # noqa: E402

POSTGRES = "postgresql://postgres@127.0.0.1:5432/test"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--quick", action="store_true", help="1,000 messages a scenario"
    )
    parser.add_argument(
        "--scenario", action="append", choices=sorted(SCENARIOS), help="repeatable"
    )
    parser.add_argument("--keep", help="work directory to keep (logs, SMSC log)")
    args = parser.parse_args()
    # Stopped by a signal, each scenario still stops its processes and drops its
    # database (a background job starts with SIGINT ignored).
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, _stop)
    try:
        install()
    except NpmUnavailable as exc:
        print(f"chaos: {exc}", file=sys.stderr)
        return 2
    scale = QUICK if args.quick else FULL
    names = args.scenario or list(SCENARIOS)
    workdir = Path(args.keep or tempfile.mkdtemp(prefix="soapsms-chaos-"))
    workdir.mkdir(parents=True, exist_ok=True)
    setup = Setup(workdir, os.environ.get("SOAPSMS_TEST_POSTGRES_URL", POSTGRES), scale)
    print(f"chaos: {scale.messages} messages a scenario; logs in {workdir}", flush=True)
    missed = []
    for name in names:
        started = time.monotonic()
        try:
            results = SCENARIOS[name](setup)
        except Exception as exc:  # noqa: BLE001 - one broken scenario, not the run
            print(f"== {name}: could not run: {type(exc).__name__}: {exc}", flush=True)
            missed.append(name)
            continue
        for result in results:
            print(result.table(), flush=True)
            if not result.ok:
                missed.append(result.scenario)
        print(f"  ({time.monotonic() - started:.0f} s)", flush=True)
    if missed:
        print(f"chaos: targets missed in {', '.join(missed)}")
        return 1
    print("chaos: every target met")
    return 0


def _stop(signum: int, _frame: object) -> None:
    raise SystemExit(128 + signum)


if __name__ == "__main__":
    sys.exit(main())
