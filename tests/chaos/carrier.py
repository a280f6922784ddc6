"""What the test SMSC saw, read back from its JSON-lines log and counted."""

from __future__ import annotations

import json
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


@dataclass
class CarrierCounts:
    """The SMSC's side of a run: one entry per destination (= per message)."""

    accepted_pdus: int = 0
    refused_pdus: int = 0  # throttled or queue-full answers
    distinct_messages: int = 0  # destinations with at least one accepted part
    complete_messages: int = 0  # destinations where every part arrived
    duplicate_parts: int = 0  # accepted part PDUs a handset already had
    duplicated_messages: int = 0  # destinations with any duplicate part
    orphan_references: int = 0  # multipart references whose parts never all came
    orphan_fragments: int = 0  # the parts those references delivered
    orphaned: set[str] = field(default_factory=set)  # their destinations
    unanswered_accepted: int = 0  # accepted but no submit_sm_resp reached the ESME
    dup_not_after_close: int = 0  # repeats whose first copy's connection was open
    dup_when_answered: int = 0  # repeated though every copy was answered in time
    answered_late: int = 0  # answered after a stall, or just before a close
    receipts_sent: int = 0  # distinct message ids a receipt went out for
    receipts_unacked: int = 0  # ids whose receipt never got a deliver_sm_resp
    receipt_sends: int = 0  # deliver_sm PDUs sent for receipts (with repeats)
    binds: int = 0
    closes: int = 0
    first_accept: float | None = None  # epoch seconds
    last_accept: float | None = None
    destinations: set[str] = field(default_factory=set)
    complete: set[str] = field(default_factory=set)
    ids: set[str] = field(default_factory=set)  # carrier ids given out (decimal)
    accept_times: list[float] = field(default_factory=list)


CLOSE_MARGIN_MS = 500


def read(path: Path) -> list[dict[str, Any]]:
    if not path.exists():
        return []
    events = []
    for line in path.read_text().splitlines():
        if line.strip():
            try:
                events.append(json.loads(line))
            except json.JSONDecodeError:  # a line cut by a kill
                continue
    return events


def count(events: list[dict[str, Any]]) -> CarrierCounts:
    """Counts from the SMSC's log; `dup_not_after_close` finds a message sent
    again while the connection that first sent it was still up (two live
    senders, or a retry of an accepted part)."""
    c = CarrierCounts()
    closed_at: dict[int, float] = {}
    for e in events:
        if e["e"] in ("close", "drop"):
            closed_at.setdefault(e["conn"], e["t"])
            c.closes += 1
        elif e["e"] == "bind":
            c.binds += 1
    parts: dict[str, list[dict[str, Any]]] = defaultdict(list)
    unanswered: set[str] = {e["id"] for e in events if e["e"] == "unanswered"} | {
        e["id"]
        for e in events
        if e["e"] == "submit" and not e["status"] and not e.get("answered", True)
    }
    late = {e["id"] for e in events if e["e"] == "late_resp"}
    # An answer written just before its connection closed may never have
    # reached the ESME: a repeat of it is not held against the gateway.
    late |= {
        e["id"]
        for e in events
        if e["e"] == "submit"
        and not e["status"]
        and 0 <= closed_at.get(e["conn"], float("inf")) - e["t"] < CLOSE_MARGIN_MS
    }
    sent_receipts: set[str] = set()
    acked: set[str] = set()
    for e in events:
        kind = e["e"]
        if kind == "submit":
            if e["status"]:
                c.refused_pdus += 1
                continue
            c.accepted_pdus += 1
            parts[e["dst"]].append(e)
            c.ids.add(str(int(e["id"], 16)))
            c.accept_times.append(e["t"] / 1000)
        elif kind == "receipt":
            sent_receipts.add(e["id"])
            c.receipt_sends += 1
        elif kind == "receipt_ack":
            acked.add(e["id"])
    c.unanswered_accepted = len(unanswered)
    c.answered_late = len(late)
    unsure = unanswered | late
    c.receipts_sent = len(sent_receipts)
    c.receipts_unacked = len(sent_receipts - acked)
    for dst, pdus in parts.items():
        seen: set[int] = set()
        duplicated = False
        first_by_part: dict[int, dict[str, Any]] = {}
        groups: dict[tuple[Any, Any], set[int]] = defaultdict(set)
        total = 1
        for e in pdus:
            part = e["part"] or 1
            total = e["total"] or 1
            groups[(e["ref"], e["total"])].add(part)
            if part in seen:
                c.duplicate_parts += 1
                duplicated = True
                first = first_by_part[part]
                gone = closed_at.get(first["conn"])
                if gone is None or gone > e["t"]:
                    c.dup_not_after_close += 1
            else:
                seen.add(part)
                first_by_part[part] = e
        c.destinations.add(dst)
        if seen >= set(range(1, total + 1)):
            c.complete.add(dst)
        c.duplicated_messages += duplicated
        if duplicated and not any(e["id"] in unsure for e in pdus):
            c.dup_when_answered += 1
        for (ref, group_total), got in groups.items():
            if ref is not None and got != set(range(1, group_total + 1)):
                c.orphan_references += 1
                c.orphan_fragments += len(got)
                c.orphaned.add(dst)
    c.distinct_messages = len(c.destinations)
    c.complete_messages = len(c.complete)
    if c.accept_times:
        c.first_accept, c.last_accept = min(c.accept_times), max(c.accept_times)
    return c
