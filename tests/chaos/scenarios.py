"""The issue's scenarios: each drives real processes, injects its faults, counts
from the clients, the store and the SMSC, and judges the issue's targets."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import requests

from tests.chaos import carrier
from tests.chaos.gateway import (
    Gateway,
    alive,
    children_of,
    free_port,
    kill_group,
    postgres_store,
)
from tests.chaos.traffic import Traffic
from tests.netfault import BLACKHOLE, PASS, REFUSE, TcpFaultProxy
from tests.smsc.npm import NpmSmsc, install

RECEIPTS = {
    "receipt_delay_ms": [50, 800],
    "receipt_repeat": 0.02,  # a receipt sent twice
    "receipt_early": 0.02,  # a receipt before its submit_sm_resp
    "resend_ms": 4000,  # an unanswered deliver_sm again after this
}


@dataclass
class Scale:
    """How big a run is: the issue's (full), `--quick`, or the test suite's."""

    messages: int
    kill_every: tuple[float, float]  # seconds between SIGKILLs
    settle: float  # seconds to wait for every receipt once sending is done
    refuse_for: float  # store refusing connections
    silent_for: float  # store not answering
    restarts: int  # SQLite serve kills
    spread: float  # seconds the clients' sending is spread over under kills


FULL = Scale(10_000, (2, 10), 300, 20, 30, 6, 120)
QUICK = Scale(1_000, (2, 5), 90, 6, 8, 6, 30)
TEST = Scale(150, (0.7, 1.5), 8, 3, 4, 2, 6)


@dataclass
class Row:
    what: str
    value: Any
    target: str = ""
    ok: bool | None = None  # None: a figure, not judged


@dataclass
class Result:
    scenario: str
    rows: list[Row] = field(default_factory=list)

    def add(
        self, what: str, value: Any, target: str = "", ok: bool | None = None
    ) -> None:
        self.rows.append(Row(what, value, target, ok))

    @property
    def ok(self) -> bool:
        return all(r.ok is not False for r in self.rows)

    def missed(self) -> list[Row]:
        return [r for r in self.rows if r.ok is False]

    def table(self) -> str:
        width = max(len(r.what) for r in self.rows)
        lines = [f"== {self.scenario} " + "=" * max(0, 70 - len(self.scenario))]
        for r in self.rows:
            mark = {True: "ok", False: "MISSED", None: ""}[r.ok]
            target = f"target {r.target}" if r.target else ""
            lines.append(f"  {r.what:<{width}}  {r.value!s:>10}  {target:<22} {mark}")
        lines.append(f"  => {'all targets met' if self.ok else 'TARGET MISSED'}")
        return "\n".join(lines)


@dataclass
class Setup:
    """Where a scenario runs: a work directory, a PostgreSQL server or none."""

    workdir: Path
    postgres_url: str | None  # the server's base URL, for a fresh database
    scale: Scale
    log: Callable[[str], None] = print


@contextmanager
def environment(
    setup: Setup, name: str, faults: dict[str, Any], store: str = "postgres"
) -> Iterator[tuple[NpmSmsc, Gateway, Path]]:
    """A fresh SMSC (with `faults`) and store; every process stopped at the end."""
    workdir = setup.workdir / name
    workdir.mkdir(parents=True, exist_ok=True)
    log_path = workdir / "smsc.jsonl"
    log_path.unlink(missing_ok=True)
    with ExitStack() as stack:
        smsc = NpmSmsc(install(), quiet=True, faults={**faults, "log": str(log_path)})
        stack.callback(smsc.close)
        if store == "postgres":
            if not setup.postgres_url:
                raise RuntimeError(
                    f"{name} needs PostgreSQL (SOAPSMS_TEST_POSTGRES_URL)"
                )
            url = stack.enter_context(postgres_store(setup.postgres_url))
        else:
            (workdir / "soapsms.db").unlink(missing_ok=True)
            url = f"sqlite:///{workdir / 'soapsms.db'}"
        gateway = Gateway(workdir, url, smsc.port)
        stack.callback(gateway.stop_all)
        gateway.prepare()
        setup.log(f"{name}: store and SMSC ready")
        yield smsc, gateway, log_path
        setup.log(f"{name}: stopping")


def _settle(gateway: Gateway, smsc: NpmSmsc, seconds: float) -> float:
    """Wait until every message is terminal and the SMSC has no receipt
    unanswered, or `seconds`; returns when that was (monotonic)."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            if gateway.non_terminal() == 0 and smsc.flush() == 0:
                break
        except Exception:  # noqa: BLE001 - the store may still be recovering
            pass
        time.sleep(1)
    return time.monotonic()


def _three_sides(
    result: Result,
    traffic: Traffic,
    gateway: Gateway,
    smsc: NpmSmsc,
    log_path: Path,
    judge: bool = True,
) -> carrier.CarrierCounts:
    """The rows every scenario shows: clients, store, SMSC; and the losses
    (judged unless the scenario's targets are elsewhere: `judge`)."""
    smsc.flush()
    seen = carrier.count(carrier.read(log_path))
    told = traffic.acknowledged()
    stored = gateway.messages()
    answers = Counter(a for c in traffic.calls for a in c.answers)
    result.add("clients: calls", len(traffic.calls))
    result.add(
        "clients: answers ok / other",
        f"{answers['ok']}/{sum(answers.values()) - answers['ok']}",
    )
    result.add("clients: messages acknowledged", len(told))
    result.add("store: messages", len(stored))
    statuses = Counter(s for _, s in stored.values())
    result.add(
        "store: statuses", " ".join(f"{s}={n}" for s, n in sorted(statuses.items()))
    )
    not_stored = sum(1 for m in told if m not in stored)
    never_sent = sum(
        1 for m, number in told.items() if m in stored and number not in seen.complete
    )
    result.add("acknowledged, not stored", not_stored, "0", not_stored == 0)
    non_terminal = sum(n for s, n in statuses.items() if s not in _TERMINAL)
    if judge:
        result.add(
            "acknowledged, never complete at SMSC", never_sent, "0", never_sent == 0
        )
        result.add("store: left non-terminal", non_terminal, "0", non_terminal == 0)
    else:
        result.add("acknowledged, not (yet) complete at SMSC", never_sent)
        result.add("store: not (yet) terminal", non_terminal)
    result.add("store: unmatched receipts", gateway.unmatched_receipts())
    unmatched_at_smsc = len(seen.ids - gateway.carrier_ids())
    result.add("SMSC: ids no part holds (receipt unmatched)", unmatched_at_smsc)
    result.add("SMSC: distinct messages", seen.distinct_messages)
    result.add(
        "SMSC: accepted / refused PDUs", f"{seen.accepted_pdus}/{seen.refused_pdus}"
    )
    result.add("SMSC: duplicated messages", seen.duplicated_messages)
    parts = seen.accepted_pdus - seen.duplicate_parts
    share = 100.0 * seen.duplicate_parts / parts if parts else 0.0
    result.add("SMSC: duplicate parts", f"{seen.duplicate_parts} ({share:.2f}%)")
    result.add(
        "SMSC: orphan references (fragments)",
        f"{seen.orphan_references} ({seen.orphan_fragments})",
    )
    result.add("SMSC: accepted without answer", seen.unanswered_accepted)
    result.add("SMSC: accepted, answered late or near a close", seen.answered_late)
    result.add("SMSC: receipts never acknowledged", seen.receipts_unacked)
    return seen


_TERMINAL = ("DELIVERED", "UNDELIVERED", "EXPIRED", "REJECTED", "FAILED", "CANCELLED")


def _pace(setup: Setup, per_call: int, clients: int) -> float:
    """A client's pause between calls that spreads the run over `spread` s."""
    return setup.scale.spread * clients * per_call / setup.scale.messages


def _killer(
    stop: threading.Event,
    every: tuple[float, float],
    victim: Callable[[], subprocess.Popen[bytes]],
    restart: Callable[[], None],
    kills: list[float],
) -> threading.Thread:
    """SIGKILL `victim()`'s group every `every` seconds and restart at once."""

    def run() -> None:
        rng = random.Random(13)
        while not stop.wait(rng.uniform(*every)):
            kill_group(victim())
            kills.append(time.monotonic())
            restart()

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread


def dispatcher_kills(setup: Setup, two: bool = False) -> Result:
    """Dispatchers SIGKILLed every few seconds while 10,000 messages flow (with
    `two`, a second one runs beside the one killed)."""
    name = "two-dispatchers-one-killed" if two else "dispatcher-sigkill"
    result = Result(name)
    with environment(setup, name, RECEIPTS) as (smsc, gateway, log_path):
        port = free_port()
        gateway.serve(port)
        gateway.wait_healthy(port)
        current = [gateway.dispatcher()]
        if two:
            gateway.dispatcher()
        traffic = Traffic(port, setup.scale.messages, pause=_pace(setup, 20, 4))
        stop, kills = threading.Event(), []

        def restart() -> None:
            current[0] = gateway.dispatcher()

        killer = _killer(
            stop, setup.scale.kill_every, lambda: current[0], restart, kills
        )
        traffic.send()
        # Kill on while the store still has queued work, then let it settle.
        deadline = time.monotonic() + setup.scale.settle
        while time.monotonic() < deadline and gateway.statuses().get("QUEUED", 0):
            time.sleep(0.5)
        stop.set()
        killer.join()
        _settle(gateway, smsc, setup.scale.settle)
        seen = _three_sides(result, traffic, gateway, smsc, log_path)
        bound = len(kills) * 2 * gateway.batch_size
        result.add("SIGKILLs", len(kills))
        result.add(
            "duplicated messages",
            seen.duplicated_messages,
            f"<= {bound} (2x batch a kill)",
            seen.duplicated_messages <= bound,
        )
        result.add(
            "repeats not after a kill" + (" (two live senders)" if two else ""),
            seen.dup_not_after_close,
            "0",
            seen.dup_not_after_close == 0,
        )
    return result


def web_kills(setup: Setup) -> Result:
    """Web workers SIGKILLed while clients send and retry with their ClientReference."""
    result = Result("web-workers-sigkill")
    with environment(setup, "web-workers-sigkill", RECEIPTS) as (
        smsc,
        gateway,
        log_path,
    ):
        port = free_port()
        serve = gateway.serve(port, workers=2)
        gateway.wait_healthy(port)
        gateway.dispatcher()
        traffic = Traffic(
            port,
            setup.scale.messages,
            per_call=10,
            clients=6,
            pause=_pace(setup, 10, 6),
        )
        stop, kills = threading.Event(), []

        def kill_workers() -> None:
            rng = random.Random(5)
            while not stop.wait(rng.uniform(0.5, 2.0)):
                workers = children_of(serve.pid)
                if workers:
                    try:
                        signal_pid(rng.choice(workers), signal.SIGKILL)
                        kills.append(time.monotonic())
                    except ProcessLookupError:
                        pass

        killer = threading.Thread(target=kill_workers, daemon=True)
        killer.start()
        traffic.send()
        stop.set()
        killer.join()
        _settle(gateway, smsc, setup.scale.settle)
        _three_sides(result, traffic, gateway, smsc, log_path)
        batches = gateway.batches()
        half = sum(1 for _, accepted, held in batches.values() if accepted != held)
        per_reference = Counter(ref for ref, _, _ in batches.values())
        by_reference = {ref: b for b, (ref, _, _) in batches.items()}
        doubled = sum(1 for n in per_reference.values() if n > 1)
        wrong = sum(
            1
            for call in traffic.calls
            if any(b != by_reference.get(call.reference) for b in call.batch_ids)
        )
        retried = sum(1 for c in traffic.calls if len(c.answers) > 1)
        result.add("worker SIGKILLs", len(kills))
        result.add("calls retried", retried)
        result.add("half batches", half, "0", half == 0)
        result.add("references stored twice", doubled, "0", doubled == 0)
        result.add("answers not the stored batch", wrong, "0", wrong == 0)
    return result


def signal_pid(pid: int, sig: int) -> None:
    os.kill(pid, sig)


def _time_to_delivered(
    setup: Setup, name: str, faults: dict[str, Any], limit: float
) -> tuple[Result, float | None]:
    """Send everything through a carrier with `faults`; seconds until every
    message was DELIVERED (None if not within `limit`)."""
    result = Result(name)
    with environment(setup, name, {**RECEIPTS, **faults}) as (smsc, gateway, log_path):
        port = free_port()
        gateway.serve(port)
        gateway.wait_healthy(port)
        gateway.dispatcher()
        traffic = Traffic(port, setup.scale.messages)
        started = time.monotonic()
        traffic.send()
        done = _settle(gateway, smsc, limit - (time.monotonic() - started))
        statuses = gateway.statuses()
        took = (
            done - started
            if statuses.get("DELIVERED", 0) == setup.scale.messages
            else None
        )
        if took is None and faults:
            # Late is one target; what the retries send in the end is the others.
            _settle(gateway, smsc, setup.scale.settle)
            result.add("waited on past 3x clean (s)", f"{time.monotonic() - done:.0f}")
        seen = _three_sides(result, traffic, gateway, smsc, log_path)
        parts = seen.accepted_pdus - seen.duplicate_parts
        share = 100.0 * seen.duplicate_parts / parts if parts else 0.0
        if faults:
            result.add(
                "orphan references",
                seen.orphan_references,
                "0",
                seen.orphan_references == 0,
            )
            result.add("duplicate parts %", f"{share:.2f}", "<= 0.5", share <= 0.5)
    return result, took


def carrier_refusals(
    setup: Setup, which: tuple[str, ...] = ("throttle", "queue_full")
) -> list[Result]:
    """A clean run for the baseline, then throttling 30% and queue-full 20%
    (`which` of them: the test suite runs one, for its time)."""
    clean, baseline = _time_to_delivered(
        setup, "clean-baseline", {}, setup.scale.settle * 2
    )
    clean.add("all DELIVERED after (s)", _seconds(baseline), "", baseline is not None)
    results = [clean]
    runs = {
        "throttle": ("carrier-throttles-30pct", {"throttle": 0.3}),
        "queue_full": ("carrier-queue-full-20pct", {"queue_full": 0.2}),
    }
    for name, faults in (runs[kind] for kind in which):
        limit = 3 * (baseline or setup.scale.settle)
        result, took = _time_to_delivered(setup, name, faults, limit)
        result.add(
            "all DELIVERED after (s)",
            _seconds(took),
            f"<= {limit:.0f} (3x clean)",
            took is not None and took <= limit,
        )
        results.append(result)
    return results


def _seconds(value: float | None) -> str:
    return "never" if value is None else f"{value:.1f}"


def drops_and_stalls(setup: Setup) -> Result:
    """The carrier cuts the connection mid-window and stalls now and then."""
    faults = {
        "drop_every": max(50, setup.scale.messages // 8),
        "stall_every_ms": 7000,
        "stall_ms": 4000,  # past the connector's 3 s response timeout
    }
    name = "carrier-drops-and-stalls"
    result = Result(name)
    with environment(setup, name, {**RECEIPTS, **faults}) as (smsc, gateway, log_path):
        port = free_port()
        gateway.serve(port)
        gateway.wait_healthy(port)
        gateway.dispatcher()
        traffic = Traffic(port, setup.scale.messages, pause=_pace(setup, 20, 4))
        traffic.send()
        _settle(gateway, smsc, setup.scale.settle)
        # The targets here are about fragments and repeats; messages
        # on a retry back-off after a cut are late, not lost (shown, not judged).
        seen = _three_sides(result, traffic, gateway, smsc, log_path, judge=False)
        result.add("SMSC: connections closed (cut, or by the ESME)", seen.closes)
        # A message still QUEUED will send its missing parts (same reference).
        stored = dict(gateway.messages().values())
        final = sum(1 for d in seen.orphaned if stored.get(d) != "QUEUED")
        result.add("orphan references of messages done", final, "0", final == 0)
        result.add(
            "repeats of submissions answered in time",
            seen.dup_when_answered,
            "0",
            seen.dup_when_answered == 0,
        )
    return result


def store_faults(setup: Setup) -> Result:
    """PostgreSQL refuses connections, then stops answering, while clients send."""
    name = "store-refuses-then-silent"
    result = Result(name)
    if not setup.postgres_url:
        raise RuntimeError(f"{name} needs PostgreSQL (SOAPSMS_TEST_POSTGRES_URL)")
    target = requests.utils.urlparse(setup.postgres_url)
    with ExitStack() as stack:
        proxy = stack.enter_context(
            TcpFaultProxy(target.hostname or "127.0.0.1", target.port or 5432)
        )
        smsc = NpmSmsc(
            install(), quiet=True, faults={**RECEIPTS, "log": str(_log(setup, name))}
        )
        stack.callback(smsc.close)
        direct = stack.enter_context(postgres_store(setup.postgres_url))
        gateway = Gateway(
            _dir(setup, name), proxy.url_for(direct), smsc.port, read_url=direct
        )
        stack.callback(gateway.stop_all)
        gateway.prepare()
        port = free_port()
        gateway.serve(port)
        gateway.wait_healthy(port)
        dispatcher = gateway.dispatcher()
        # Faults only once the dispatcher is up (bound at the SMSC): a start
        # that failed through the proxy would otherwise read as no recovery.
        _wait_bound(smsc, _log(setup, name), dispatcher)
        bound = 5.0  # store_timeout_seconds' default
        # Sending spread over the faults and a few seconds either side.
        spread = 8 + setup.scale.refuse_for + setup.scale.silent_for
        traffic = Traffic(
            port,
            setup.scale.messages,
            per_call=5,
            clients=4,
            timeout=60,
            retry_for=600,
            pause=spread * 4 * 5 / setup.scale.messages,
        )
        health: list[tuple[float, float, int]] = []  # (asked at, took, status)
        stop = threading.Event()

        def poll_health() -> None:
            while not stop.wait(0.1):
                asked = time.monotonic()
                try:
                    code = requests.get(
                        f"http://127.0.0.1:{port}/health", timeout=20
                    ).status_code
                except requests.RequestException:
                    code = 0
                health.append((asked, time.monotonic() - asked, code))

        threading.Thread(target=poll_health, daemon=True).start()
        sender = traffic.start()
        time.sleep(2)
        phases = []
        for mode, seconds in (
            (REFUSE, setup.scale.refuse_for),
            (BLACKHOLE, setup.scale.silent_for),
        ):
            began = time.monotonic()
            proxy.mode = mode
            time.sleep(seconds)
            proxy.mode = PASS
            phases.append((mode, began, time.monotonic()))
            time.sleep(3)
        sender.join(timeout=setup.scale.settle * 4)
        stop.set()
        _settle(gateway, smsc, setup.scale.settle)
        _three_sides(result, traffic, gateway, smsc, log_path=_log(setup, name))
        attempts = [lat for c in traffic.calls for lat in c.latencies]
        slowest = max(attempts) if attempts else 0.0
        result.add(
            "slowest SOAP answer (s)",
            f"{slowest:.1f}",
            f"<= {bound + 1:.0f}",
            slowest <= bound + 1,
        )
        other = Counter(
            a
            for c in traffic.calls
            for a in c.answers
            if a not in ("ok", "Server.Unavailable")
        )
        result.add(
            "answers neither ok nor Server.Unavailable",
            sum(other.values()),
            "0",
            not other,
        )
        if other:
            result.add(
                "  of which", " ".join(f"{k}={v}" for k, v in other.most_common(4))
            )
        for mode, began, ended in phases:
            # Seen as an operator polling /health sees it: the first 503
            # answered once the fault began, also to a poll asked just before.
            first_503 = next(
                (
                    a + took
                    for a, took, code in health
                    if a + took >= began and code == 503
                ),
                None,
            )
            wait = None if first_503 is None or first_503 > ended else first_503 - began
            result.add(
                f"/health 503 after ({mode}, s)",
                _seconds(wait),
                "<= 2",
                wait is not None and wait <= 2,
            )
            slow = max(
                (took for a, took, _ in health if began <= a <= ended), default=0.0
            )
            result.add(f"slowest /health ({mode}, s)", f"{slow:.1f}", "<= 2", slow <= 2)
        recovered = bool(health) and health[-1][2] == 200
        result.add("/health 200 again, no restart", recovered, "True", recovered)
    return result


def _wait_bound(
    smsc: NpmSmsc, log_path: Path, process: subprocess.Popen[bytes], limit: float = 60
) -> None:
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        smsc.flush()
        if any(e["e"] == "bind" for e in carrier.read(log_path)):
            return
        if process.poll() is not None:
            raise RuntimeError(
                f"the dispatcher exited ({process.returncode}) before binding"
            )
        time.sleep(0.3)
    raise RuntimeError(f"no dispatcher bound at the SMSC within {limit} s")


def _dir(setup: Setup, name: str) -> Path:
    path = setup.workdir / name
    path.mkdir(parents=True, exist_ok=True)
    return path


def _log(setup: Setup, name: str) -> Path:
    return _dir(setup, name) / "smsc.jsonl"


def sqlite_serve_kills(setup: Setup) -> Result:
    """The one-box gateway on SQLite: serve SIGKILLed (whole group, or the
    master only) and restarted at once, while clients send."""
    name = "sqlite-serve-sigkill"
    result = Result(name)
    with environment(setup, name, RECEIPTS, store="sqlite") as (
        smsc,
        gateway,
        log_path,
    ):
        port = free_port()
        serve = gateway.serve(port, workers=1, dispatch=True)
        gateway.wait_healthy(port)
        # Paced so that every restart finds messages still coming in.
        calls_each = setup.scale.messages / 10 / 2
        pace = setup.scale.restarts * 9 / calls_each
        traffic = Traffic(
            port,
            setup.scale.messages,
            per_call=10,
            clients=2,
            retry_for=600,
            pause=pace,
        )
        sender = traffic.start()
        resumed: list[float | None] = []
        orphans: Counter[str] = Counter()
        refused = 0  # restarts that exited at once (the port still held)
        for n in range(setup.scale.restarts):
            time.sleep(3)
            family = children_of(serve.pid)
            if n % 2 == 0:
                signal_pid(serve.pid, signal.SIGKILL)  # the master only
                serve.wait()
            else:
                kill_group(serve)
            restarted_ms = time.time() * 1000
            serve = gateway.serve(port, workers=1, dispatch=True)
            time.sleep(3)  # a gunicorn worker notices its master's death in ~1 s
            if serve.poll() is not None:  # a restart policy starts it again
                refused += 1
                serve = gateway.serve(port, workers=1, dispatch=True)
            left = [p for p in family if alive(p)]
            orphans.update(_kind(p) for p in left)
            for pid in left:  # ours: they were started by the serve we started
                try:
                    signal_pid(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
            resumed.append(_resumed(log_path, smsc, restarted_ms, 11))
        sender.join(timeout=setup.scale.settle * 4)
        _settle(gateway, smsc, setup.scale.settle)
        _three_sides(result, traffic, gateway, smsc, log_path)
        worst = None if None in resumed else max(resumed, default=0.0)
        result.add("restarts", len(resumed))
        result.add(
            "slowest resume after a restart (s)",
            " ".join(_seconds(r) for r in resumed),
            "<= 10 each",
            worst is not None and worst <= 10,
        )
        result.add("restarts that exited at once, started again", refused)
        total = sum(orphans.values())
        result.add("orphan processes", total, "0", total == 0)
        if total:
            result.add("  of which", " ".join(f"{k}={n}" for k, n in orphans.items()))
    return result


def _kind(pid: int) -> str:
    """What a process of ours is, from its command line."""
    try:
        argv = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        return "gone"
    for kind in (b"dispatch", b"smtp", b"serve"):
        if kind in argv:
            return kind.decode()
    return "other"


def _resumed(
    log_path: Path, smsc: NpmSmsc, since_ms: float, limit: float
) -> float | None:
    """Seconds from `since_ms` to the first submit_sm on a connection bound
    after it (a dispatcher of the restarted serve), or None within `limit`."""
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        smsc.flush()
        events = carrier.read(log_path)
        fresh = {e["conn"] for e in events if e["e"] == "bind" and e["t"] >= since_ms}
        first = min(
            (e["t"] for e in events if e["e"] == "submit" and e["conn"] in fresh),
            default=None,
        )
        if first is not None:
            return (first - since_ms) / 1000
        time.sleep(0.5)
    return None


SCENARIOS: dict[str, Callable[[Setup], list[Result]]] = {
    "dispatcher-sigkill": lambda s: [dispatcher_kills(s)],
    "two-dispatchers": lambda s: [dispatcher_kills(s, two=True)],
    "web-workers-sigkill": lambda s: [web_kills(s)],
    "carrier-refusals": carrier_refusals,
    "drops-and-stalls": lambda s: [drops_and_stalls(s)],
    "store-faults": lambda s: [store_faults(s)],
    "sqlite-serve-sigkill": lambda s: [sqlite_serve_kills(s)],
}
