"""`soapsms serve` on SQLite heals itself: a SIGKILLed dispatcher companion is
restarted, a SIGKILLed master leaves no orphan, and a serve restarted at once
after a SIGKILL (master only, or the whole group) dispatches again within
10 s, without waiting out the dead dispatcher's lease; no message is lost."""

from __future__ import annotations

import collections
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
import zeep
from sqlalchemy import func, select
from zeep.transports import Transport

from soapsms.store.db import make_engine, transaction
from soapsms.store.models import DispatcherBeat, Message
from tests.smsc.fault import wait_until

SOAPSMS = str(Path(sys.executable).with_name("soapsms"))
AUTH = {"AccountId": "acme", "Password": "s3cret"}


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _group(pgid: int) -> set[int]:
    """Live (not zombie) processes of a process group, from /proc."""
    found = set()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        state, _ppid, group = stat.rsplit(")", 1)[1].split()[:3]
        if int(group) == pgid and state != "Z":
            found.add(int(entry.name))
    return found


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


class Gateway:
    """A `soapsms serve` in its own process group, restartable on one port."""

    def __init__(self, tmp_path: Path) -> None:
        self.db = tmp_path / "soapsms.db"
        self.journal = tmp_path / "journal"
        self.log = tmp_path / "serve.log"
        self.config = tmp_path / "soapsms.ini"
        # The default lease (60 s): a restart that waited it out would fail.
        self.config.write_text(
            "[soapsms]\n"
            f"database_url = sqlite:///{self.db}\n"
            "argon2_time_cost = 1\nargon2_memory_kib = 64\n"
            "log_level = WARNING\n"
            "[connector:sim]\ntype = simulator\n"
            "submit_latency_ms = 20\nreceipt_delay_ms = 50-200\n"
            "rejected_rate = 0\nundelivered_rate = 0\nwindow = 20\n"
            f"journal = {self.journal}\n"
            "[routes]\ndefault = sim\n"
        )
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.process: subprocess.Popen[bytes] | None = None
        self.engine = make_engine(f"sqlite:///{self.db}")
        self._run("db", "upgrade")
        self._run("account", "create", "acme", "--password", "s3cret")

    def _run(self, *argv: str) -> None:
        subprocess.run(
            [SOAPSMS, "--config", str(self.config), *argv],
            check=True,
            capture_output=True,
        )

    def start(self) -> float:
        """Start serve; the monotonic time it was started at."""
        started = time.monotonic()
        with self.log.open("ab") as out:
            self.process = subprocess.Popen(
                [
                    SOAPSMS,
                    "--config",
                    str(self.config),
                    "serve",
                    "--bind",
                    f"127.0.0.1:{self.port}",
                    "--workers",
                    "1",
                    "--smtp-bind",
                    "off",
                ],
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        wait_until(self._healthy_or_dead, timeout=60, what="serve to answer")
        assert self.process.poll() is None, self.log.read_text()
        return started

    def _healthy_or_dead(self) -> bool:
        assert self.process is not None
        if self.process.poll() is not None:
            return True
        try:
            return requests.get(self.url + "/health", timeout=2).status_code < 500
        except requests.RequestException:
            return False

    def send(self, count: int, reference: str) -> list[str]:
        """Message ids the gateway acknowledged for `count` new recipients
        (numbers told apart by the reference's last digit)."""
        client = zeep.Client(f"{self.url}/soap?wsdl", transport=Transport(timeout=30))
        first = int(reference[-1]) * 1000
        numbers = ",".join(f"+1703606{first + n:04d}" for n in range(count))
        answer = client.service.SendMessage(
            Auth=AUTH,
            Message={
                "Text": "disk full",
                "RecipientsText": numbers,
                "ClientReference": reference,
            },
        )
        return [m.MessageId for m in answer.Messages.MessageReceipt]

    def count(self, *statuses: str) -> int:
        with transaction(self.engine) as conn:
            return int(
                conn.scalar(
                    select(func.count())
                    .select_from(Message)
                    .where(Message.status.in_(statuses))
                )
                or 0
            )

    def dispatcher_pid(self) -> int | None:
        with transaction(self.engine) as conn:
            pids = list(conn.scalars(select(DispatcherBeat.pid)))
        live = [pid for pid in pids if _alive(pid)]
        return live[0] if len(live) == 1 else None

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(30)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()
        self.engine.dispose()


@pytest.fixture
def gateway(tmp_path: Path) -> Iterator[Gateway]:
    gw = Gateway(tmp_path)
    try:
        yield gw
    finally:
        gw.stop()
        if gw.process is not None:
            for pid in _group(gw.process.pid):
                os.kill(pid, signal.SIGKILL)


SENT = ("SUBMITTED", "DELIVERED")


def test_serve_restarts_its_dispatcher_leaves_no_orphan_and_resumes(
    gateway: Gateway,
) -> None:
    acknowledged: list[str] = []
    gateway.start()
    assert gateway.process is not None
    acknowledged += gateway.send(100, "INC-001")
    wait_until(lambda: gateway.count(*SENT) >= 20, timeout=30, what="dispatching")

    # 1. The dispatcher companion is SIGKILLed: serve starts another.
    victim = wait_until(gateway.dispatcher_pid, timeout=10, what="a dispatcher")
    os.kill(victim, signal.SIGKILL)
    acknowledged += gateway.send(50, "INC-002")
    wait_until(
        lambda: gateway.dispatcher_pid() not in (None, victim),
        timeout=15,
        what="serve to restart its dispatcher",
    )
    wait_until(
        lambda: gateway.count(*SENT) == len(acknowledged),
        timeout=20,
        what="the restarted dispatcher to send everything",
    )

    # 2. Only the master is SIGKILLed: its workers and companions follow it.
    acknowledged += gateway.send(100, "INC-003")
    group = _group(gateway.process.pid)
    assert len(group) >= 3  # master, web worker, dispatcher
    os.kill(gateway.process.pid, signal.SIGKILL)
    gateway.process.wait()
    wait_until(
        lambda: not any(_alive(pid) for pid in group),
        timeout=40,
        what=f"no orphan of {sorted(group)}",
    )
    started = gateway.start()
    acknowledged += gateway.send(20, "INC-004")
    wait_until(
        lambda: gateway.count(*SENT) == len(acknowledged),
        timeout=max(10 - (time.monotonic() - started), 1) + 20,
        what="dispatching after the master's SIGKILL",
    )

    # 3. The whole group is SIGKILLed mid-dispatch and restarted at once: the
    # dead dispatcher's young heartbeat and leases do not hold the new one.
    acknowledged += gateway.send(300, "INC-005")
    wait_until(lambda: gateway.count(*SENT) > len(acknowledged) - 300, timeout=30)
    before = gateway.count(*SENT)
    os.killpg(gateway.process.pid, signal.SIGKILL)
    gateway.process.wait()
    wait_until(lambda: not _group(gateway.process.pid), timeout=10, what="the kill")
    started = gateway.start()
    wait_until(
        lambda: gateway.count(*SENT) > before,
        timeout=max(10 - (time.monotonic() - started), 0.5),
        what="dispatching within 10 s of the restart",
    )
    wait_until(
        lambda: gateway.count(*SENT) == len(acknowledged),
        timeout=30,
        what="every acknowledged message sent",
    )

    # Counted from both sides: none lost; repeats only from the kills' windows.
    assert gateway.count(*SENT) == len(set(acknowledged)) == 570
    submitted = collections.Counter(
        line.split()[0] for line in gateway.journal.read_text().splitlines()
    )
    assert set(submitted) == set(acknowledged)
    repeated = sum(n - 1 for n in submitted.values())
    assert repeated <= 3 * 2 * 200  # three kills, each its in-flight bound at most
    log = gateway.log.read_text()
    assert "restarting in 1 s" in log and "took over from dead dispatcher" in log
