"""The dispatcher bench A/B: this tree's soapsms against another revision's, in one run.

Runs tests/bench/dispatch_bench.py once per round for each side, alternating
(base, head, base, head, ...), so that both meet the same machine; the base's
soapsms package comes from a temporary git worktree of `--base`. Prints the
medians of each side and head/base ratios for the dispatcher's rate and its
CPU a message (dispatcher + PostgreSQL); exits 1 when head is more than 10%
worse on either. A benchmark, not a test: pytest never collects it.

    .venv/bin/python tests/bench/dispatch_ab.py --base 68335db [--rounds 3]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
BENCH = ROOT / "tests" / "bench" / "dispatch_bench.py"
TOLERANCE = 0.10


def _run(messages: int, soapsms_dir: str | None) -> dict[str, dict[str, float]]:
    env = dict(os.environ)
    env.pop("SOAPSMS_BENCH_SOAPSMS", None)
    if soapsms_dir:
        env["SOAPSMS_BENCH_SOAPSMS"] = soapsms_dir
    done = subprocess.run(
        [
            sys.executable,
            str(BENCH),
            "--runs",
            "1",
            "--messages",
            str(messages),
            "--json",
        ],
        env=env,
        capture_output=True,
        text=True,
        check=True,
        timeout=900,
    )
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--base", required=True, help="the git revision to compare with"
    )
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--messages", type=int, default=5000)
    args = parser.parse_args()
    runs: dict[str, list[dict[str, dict[str, float]]]] = {"base": [], "head": []}
    with tempfile.TemporaryDirectory(prefix="soapsms-ab-") as tmp:
        tree, shim = Path(tmp) / "tree", Path(tmp) / "shim"
        subprocess.run(
            [
                "git",
                "-C",
                str(ROOT),
                "worktree",
                "add",
                "--detach",
                "-q",
                str(tree),
                args.base,
            ],
            check=True,
        )
        try:
            shim.mkdir()
            # Only the base's package: tests.* stay this tree's.
            (shim / "soapsms").symlink_to(tree / "soapsms")
            for _ in range(args.rounds):
                runs["base"].append(_run(args.messages, str(shim)))
                runs["head"].append(_run(args.messages, None))
        finally:
            subprocess.run(
                ["git", "-C", str(ROOT), "worktree", "remove", "--force", str(tree)],
                check=False,
            )
    print(
        f"Dispatcher A/B: {args.rounds} alternating rounds of {args.messages} messages;"
        f" base {args.base}, head this tree (medians)"
    )
    print(
        f"  {'store':<9} {'':<5} {'msg/s':>7} {'CPU us/msg (dispatcher+PostgreSQL)':>36}"
    )
    worse = False
    for kind in ("sqlite", "postgres"):
        figures = {}
        for side in ("base", "head"):
            rate = statistics.median(r[kind]["rate"] for r in runs[side])
            cpu = statistics.median(
                r[kind]["own"] + r[kind]["postgres"] for r in runs[side]
            )
            figures[side] = (rate, cpu)
            print(f"  {kind:<9} {side:<5} {rate:7.0f} {cpu:36.0f}")
        rate_ratio = figures["head"][0] / figures["base"][0]
        cpu_ratio = figures["head"][1] / figures["base"][1]
        ok = rate_ratio >= 1 - TOLERANCE and cpu_ratio <= 1 + TOLERANCE
        worse |= not ok
        print(
            f"  {kind:<9} head/base: rate {rate_ratio:.2f}, CPU {cpu_ratio:.2f}"
            f" ({'within' if ok else 'NOT within'} {TOLERANCE:.0%})"
        )
    return 1 if worse else 0


if __name__ == "__main__":
    sys.exit(main())
