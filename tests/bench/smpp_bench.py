"""SMPP connector throughput: submits/s through our connector vs smpplib alone.

Both drive the same loopback SMSC (the npm `smpp` server, tests/smsc/npm) with
a window of 10 outstanding submit_sm, in alternating runs of the same run;
prints the medians and our share of the ceiling (target: at least 60%). The
dispatcher's QUEUED→SUBMITTED figure needs the worker and the store; this
measures the connector alone. A benchmark, not a test: pytest never collects it.

    .venv/bin/python tests/bench/smpp_bench.py [--messages 5000] [--runs 5]
"""

from __future__ import annotations

import argparse
import socket
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

from smpplib import client as smpp_client

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # for tests.smsc

from soapsms.dispatch.connectors.smpp import create  # noqa: E402
from tests.bench.cpu import snapshot, steal_note  # noqa: E402
from tests.smsc.esme import RecordingSink, submission  # noqa: E402
from tests.smsc.npm import NpmSmsc, NpmUnavailable, install  # noqa: E402

WINDOW = 10
TARGET = 0.60
TEXT = "Server web01 is down"


def through_connector(port: int, messages: int) -> float:
    """Submits/s via SmppConnector.submit() from one caller thread."""
    carrier = create(
        "bench",
        {
            "host": "127.0.0.1",
            "port": str(port),
            "system_id": "bench",
            "window": str(WINDOW),
        },
    )
    carrier.start(RecordingSink())
    deadline = time.monotonic() + 10
    while not carrier.is_up():
        if time.monotonic() > deadline:
            raise RuntimeError("the connector did not bind")
        time.sleep(0.01)
    message = submission(TEXT, want_receipt=False)
    try:
        started = time.perf_counter()
        futures = [carrier.submit(message) for _ in range(messages)]
        results = [f.result(30) for f in futures]
        elapsed = time.perf_counter() - started
    finally:
        carrier.stop()
    if not all(r.accepted for r in results):
        raise RuntimeError("the SMSC refused some submissions")
    return messages / elapsed


def through_smpplib(port: int, messages: int) -> float:
    """Submits/s from smpplib's own client, window kept by a plain loop: the ceiling."""
    client = smpp_client.Client("127.0.0.1", port, allow_unknown_opt_params=True)
    client.connect()
    # The same socket option our connector sets; without it Nagle caps this side.
    client._socket.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    client.bind_transceiver(system_id="bench", password="", system_type="")
    fields = {
        "source_addr_ton": 5,
        "source_addr": "SOAPSMS",
        "dest_addr_ton": 1,
        "dest_addr_npi": 1,
        "destination_addr": "17036069996",
        "data_coding": 0,
        "short_message": TEXT.encode("ascii"),
    }
    sent = answered = 0
    try:
        started = time.perf_counter()
        while answered < messages:
            while sent - answered < WINDOW and sent < messages:
                client.send_message(**fields)
                sent += 1
            pdu = client.read_pdu()
            if pdu.command == "submit_sm_resp":
                if pdu.status != 0:
                    raise RuntimeError(f"submit_sm_resp status {pdu.status}")
                answered += 1
        elapsed = time.perf_counter() - started
    finally:
        client.state = 1  # closed on purpose; smpplib would warn while bound
        client.disconnect()
    return messages / elapsed


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=5000)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    try:
        node = install()
    except NpmUnavailable as exc:
        print(f"smpp bench skipped: {exc}", file=sys.stderr)
        return 2
    smsc = NpmSmsc(node, quiet=True)
    first = snapshot()
    rates: dict[str, list[float]] = {"connector": [], "smpplib": []}
    runners: dict[str, Callable[[int, int], float]] = {
        "connector": through_connector,
        "smpplib": through_smpplib,
    }
    try:
        for run in runners.values():  # warm-up: JIT in node, caches here
            run(smsc.port, min(args.messages, 1000))
        for _ in range(args.runs):
            for name, run in runners.items():
                rates[name].append(run(smsc.port, args.messages))
    finally:
        smsc.close()
    connector = statistics.median(rates["connector"])
    ceiling = statistics.median(rates["smpplib"])
    ratio = connector / ceiling
    print(
        f"SMPP submit_sm, window {WINDOW}, {args.messages} messages x {args.runs} runs"
    )
    print(f"  smpplib alone (ceiling)  {ceiling:10.0f} /s  (median)")
    print(f"  our connector            {connector:10.0f} /s  (median)")
    verdict = "met" if ratio >= TARGET else "NOT met"
    print(
        f"  ratio                    {ratio:10.0%}     target {TARGET:.0%}: {verdict}"
    )
    for line in steal_note(first, snapshot()):
        print(f"  {line}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
