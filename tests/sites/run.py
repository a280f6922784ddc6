"""`make sites`: the two-site scenarios at full size, then the table
(acknowledged, stored, lost, duplicated, time to recover) and the figures
(CPU per message with one node and two, synchronous replication's cost).

    python -m tests.sites.run [--messages 10000] [--failover-messages 3000]
        [--rate 100]
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable

from tests.sites import scenarios as sc
from tests.sites.harness import missing

COLUMNS = ("acknowledged", "stored", "lost", "duplicated", "carrier_duplicates")


def table(rows: list[sc.Row]) -> str:
    head = ("scenario", *COLUMNS, "recover s")
    lines = [" | ".join(head), " | ".join("---" for _ in head)]
    for row in rows:
        recover = "-" if row.recover_seconds is None else f"{row.recover_seconds:.1f}"
        cells = [row.scenario, *(str(getattr(row, c)) for c in COLUMNS), recover]
        lines.append(" | ".join(cells))
    return "\n".join(f"| {line} |" for line in lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=10_000)
    parser.add_argument("--failover-messages", type=int, default=3_000)
    parser.add_argument("--rate", type=float, default=100.0,
                        help="messages a second a node, for the paced CPU runs")  # fmt: skip
    args = parser.parse_args()
    why = missing()
    if why:
        print(f"sites: cannot run: {why}", file=sys.stderr)
        return 2
    n, f, r = args.messages, args.failover_messages, args.rate
    plan: list[Callable[[], sc.Row]] = [
        lambda: sc.steady(n, synchronous=True),
        lambda: sc.steady(n, synchronous=True, nodes=("a",)),
        lambda: sc.steady(n, synchronous=False),
        # Paced: the same rate a node, one node and two (30 s each).
        lambda: sc.steady(int(30 * r), synchronous=True, nodes=("a",), rate=r),
        lambda: sc.steady(int(60 * r), synchronous=True, rate=2 * r),
        lambda: sc.node_killed(f),
        lambda: sc.primary_lost(f, synchronous=True),
        lambda: sc.primary_lost(f, synchronous=False),
        lambda: sc.partitioned(f),
    ]
    rows = []
    for step in plan:
        row = step()
        print(f"{row.scenario}: {row}", flush=True)
        rows.append(row)
    print()
    print(table(rows))
    print()
    for row in rows:
        print(f"{row.scenario}: " + ", ".join(f"{k} {v}" for k, v in row.extra.items()))
    two, one, unsynced, paced_one, paced_two = rows[:5]
    print()
    for shape, (a, b) in (
        ("as fast as answered", (two, one)),
        ("the same rate a node", (paced_two, paced_one)),
    ):
        for figure in (
            "node cpu ms/message",
            "web cpu ms/accepted",
            "dispatch cpu ms/dispatched",
            # The clients' work is the same whoever serves them: near 1.00
            # when the machine's load does not inflate CPU time.
            "client cpu ms/message",
        ):
            ratio = a.extra[figure] / b.extra[figure]
            print(f"{shape}: {figure}, two nodes / one: {ratio:.2f}")
    print(
        "synchronous replication, median send: "
        f"{two.extra['median ms']} ms vs {unsynced.extra['median ms']} ms async"
    )
    failed = [r.scenario for r in rows if r.lost and "async" not in r.scenario]
    if failed:
        print(f"acknowledged messages lost in: {', '.join(failed)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
