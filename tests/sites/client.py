"""Customers' software: sends numbered messages with a ClientReference each,
and on any failure (no answer, Server.Unavailable) sends the same one again
to the other site, as the replaced gateway's clients did.

    python -m tests.sites.client OUT.json PROGRESS SITE_URL,SITE_URL FIRST COUNT
        [--threads N] [--prefix R] [--alternate] [--rate PER_SECOND]

Writes one record per message: reference, acknowledged, and each try as
(site index, outcome, start, end) in the machine's monotonic seconds.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import threading
import time
from pathlib import Path
from typing import Any

import requests
import zeep
from zeep.transports import Transport

WSDL = Path(__file__).resolve().parents[2] / "wsdl" / "soapsms.wsdl"
BINDING = "{urn:soapsms:v1}SmsServiceSoapBinding"
AUTH = {"AccountId": "acme", "Password": "s3cret"}
GIVE_UP = 120.0  # seconds a message is retried before it counts as not sent
PAUSE = 0.2  # between a failure and the next try


class Sender:
    def __init__(self, sites: list[str]) -> None:
        transport = Transport(session=requests.Session(), timeout=10,
                              operation_timeout=15)  # fmt: skip
        client = zeep.Client(str(WSDL), transport=transport)
        self.services = [client.create_service(BINDING, f"{s}/soap") for s in sites]

    def send(self, n: int, reference: str, first: int) -> dict[str, Any]:
        tries: list[tuple[int, str, float, float]] = []
        started = time.monotonic()
        site = first
        while time.monotonic() - started < GIVE_UP:
            began = time.monotonic()
            try:
                self.services[site].SendMessage(
                    Auth=AUTH,
                    Message={
                        "Text": f"sites {reference}",
                        "RecipientsText": f"+1703606{n % 10000:04d}",
                        "ClientReference": reference,
                    },
                )
                tries.append((site, "ok", began, time.monotonic()))
                return {"ref": reference, "ack": True, "tries": tries}
            except zeep.exceptions.Fault as fault:
                outcome = str(fault.code).rsplit(":", 1)[-1]
            except Exception as exc:  # noqa: BLE001 - no answer: the other site
                outcome = type(exc).__name__
            tries.append((site, outcome, began, time.monotonic()))
            site = 1 - site if len(self.services) > 1 else site
            time.sleep(PAUSE)
        return {"ref": reference, "ack": False, "tries": tries}


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("out")
    parser.add_argument("progress")
    parser.add_argument("sites")
    parser.add_argument("first", type=int)
    parser.add_argument("count", type=int)
    parser.add_argument("--threads", type=int, default=8)
    parser.add_argument("--prefix", default="R")
    parser.add_argument("--alternate", action="store_true",
                        help="start every other message at the second site")  # fmt: skip
    parser.add_argument("--rate", type=float, default=0.0,
                        help="messages a second in all (default: as fast as answered)")  # fmt: skip
    args = parser.parse_args()
    sites = args.sites.split(",")
    numbers = iter(range(args.first, args.first + args.count))
    lock = threading.Lock()
    records: list[dict[str, Any]] = []
    done = itertools.count(1)
    started = time.monotonic()

    def work() -> None:
        sender = Sender(sites)
        while True:
            with lock:
                n = next(numbers, None)
            if n is None:
                return
            if args.rate:  # open loop: message i starts at i / rate
                time.sleep(
                    max(0.0, started + (n - args.first) / args.rate - time.monotonic())
                )
            first = n % 2 if args.alternate and len(sites) > 1 else 0
            record = sender.send(n, f"{args.prefix}-{n}", first)
            with lock:
                records.append(record)
                count = next(done)
            if count % 50 == 0:
                tmp = f"{args.progress}.tmp"
                Path(tmp).write_text(str(count))
                os.replace(tmp, args.progress)

    threads = [threading.Thread(target=work) for _ in range(args.threads)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    Path(args.out).write_text(json.dumps(records))
    # The same work for every message whatever serves it: how much the
    # machine's own load inflates CPU time (tests/sites/scenarios.steady).
    Path(f"{args.out}.cpu").write_text(str(time.process_time()))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
