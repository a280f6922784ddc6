"""The gateway as an operator runs it: an INI file, `soapsms serve` and
`soapsms dispatch` processes, a fresh store, and SQL to read what it holds."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import requests
import sqlalchemy

SOAPSMS = str(Path(sys.executable).with_name("soapsms"))
TERMINAL = ("DELIVERED", "UNDELIVERED", "EXPIRED", "REJECTED", "FAILED", "CANCELLED")
ACCOUNT, PASSWORD = "chaos", "chaos-pw"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def postgres_store(base_url: str) -> Iterator[str]:
    """A fresh PostgreSQL database on `base_url`'s server, dropped at the end."""
    admin = sqlalchemy.create_engine(
        base_url.replace("postgresql://", "postgresql+psycopg://", 1),
        isolation_level="AUTOCOMMIT",
    )
    name = f"soapsms_chaos_{uuid.uuid4().hex[:8]}"
    with admin.connect() as conn:
        conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
    try:
        url = sqlalchemy.engine.make_url(base_url).set(database=name)
        yield url.render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.dispose()


@dataclass
class Gateway:
    """Writes the INI, starts and kills the processes, reads the store."""

    workdir: Path
    db_url: str  # what the processes use (maybe through a fault proxy)
    smsc_port: int
    read_url: str = ""  # what the harness reads the store with (direct)
    lease_seconds: float = 5.0
    batch_size: int = 100
    window: int = 20
    extra: dict[str, str] = field(default_factory=dict)
    processes: list[subprocess.Popen[bytes]] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.read_url = self.read_url or self.db_url
        self.config = self.workdir / "soapsms.ini"
        smpp = {
            "host": "127.0.0.1",
            "port": str(self.smsc_port),
            "system_id": "chaos",
            "window": str(self.window),
            "submit_id_format": "hex",
            "response_timeout_seconds": "3",
            "connect_timeout_seconds": "3",
            "reconnect_min_seconds": "0.5",
            "reconnect_max_seconds": "2",
            "enquire_link_seconds": "5",
        }
        settings = {
            "database_url": self.db_url.replace("%", "%%"),
            "dispatch_lease_seconds": str(self.lease_seconds),
            "dispatch_batch_size": str(self.batch_size),
            "log_level": "WARNING",
            **self.extra,
        }
        self.config.write_text(
            "[soapsms]\n"
            + "".join(f"{k} = {v}\n" for k, v in settings.items())
            + "[connector:smsc]\ntype = smpp\n"
            + "".join(f"{k} = {v}\n" for k, v in smpp.items())
            + "[routes]\ndefault = smsc\n"
        )
        self.engine = sqlalchemy.create_engine(
            self.read_url.replace("postgresql://", "postgresql+psycopg://", 1)
        )

    def env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("SOAPSMS_")}
        env.update(SOAPSMS_ARGON2_TIME_COST="1", SOAPSMS_ARGON2_MEMORY_KIB="64")
        return env

    def cli(self, *argv: str) -> None:
        subprocess.run(
            [SOAPSMS, "--config", str(self.config), *argv],
            env=self.env(),
            check=True,
            capture_output=True,
            timeout=120,
        )

    def prepare(self) -> None:
        """Schema and the account the clients send with."""
        self.cli("db", "upgrade")
        self.cli("account", "create", ACCOUNT, "--password", PASSWORD, "--exist-ok")

    def _start(self, name: str, *argv: str) -> subprocess.Popen[bytes]:
        log = self.workdir / f"{name}.log"
        with log.open("ab") as out:
            process = subprocess.Popen(
                [SOAPSMS, "--config", str(self.config), *argv],
                env=self.env(),
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # its own group: killed as a whole
            )
        self.processes.append(process)
        return process

    def dispatcher(self) -> subprocess.Popen[bytes]:
        return self._start("dispatch", "dispatch", "--wait")

    def serve(
        self, port: int, workers: int = 2, dispatch: bool = False
    ) -> subprocess.Popen[bytes]:
        return self._start(
            "serve",
            "serve",
            "--bind",
            f"127.0.0.1:{port}",
            "--workers",
            str(workers),
            "--smtp-bind",
            "off",
            "--snpp-bind",
            "off",
            "--dispatch",
            "on" if dispatch else "off",
        )

    def wait_healthy(self, port: int, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                if requests.get(f"http://127.0.0.1:{port}/health", timeout=1).ok:
                    return
            except requests.RequestException:
                pass
            time.sleep(0.2)
        raise RuntimeError(f"serve on port {port} not healthy after {timeout} s")

    def stop_all(self) -> None:
        """Stop every group this gateway started (and only those): SIGTERM, so
        serve removes its metrics directory, then SIGKILL after 3 s — the
        counting is done by then, and a full graceful stop costs seconds."""
        for process in self.processes:
            _signal_group(process.pid, signal.SIGTERM)
        deadline = time.monotonic() + 3
        for process in self.processes:
            try:
                process.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                pass
            _signal_group(process.pid, signal.SIGKILL)
            process.wait()
        self.processes.clear()
        self.engine.dispose()

    # --- the store's side --------------------------------------------------

    def statuses(self) -> dict[str, int]:
        with self.engine.connect() as conn:
            rows = conn.exec_driver_sql(
                "SELECT status, count(*) FROM messages GROUP BY status"
            ).all()
        return {str(s): int(n) for s, n in rows}

    def messages(self) -> dict[str, tuple[str, str]]:
        """message_id -> (recipient digits, status)."""
        with self.engine.connect() as conn:
            rows = conn.exec_driver_sql(
                "SELECT message_id, recipient, status FROM messages"
            ).all()
        return {str(m): (str(r).lstrip("+"), str(s)) for m, r, s in rows}

    def batches(self) -> dict[str, tuple[str | None, int, int]]:
        """batch_id -> (client_reference, accepted_count, messages stored)."""
        with self.engine.connect() as conn:
            rows = conn.exec_driver_sql(
                "SELECT b.batch_id, b.client_reference, b.accepted_count,"
                " (SELECT count(*) FROM messages m WHERE m.batch_id = b.batch_id)"
                " FROM batches b"
            ).all()
        return {str(b): (r, int(a), int(n)) for b, r, a, n in rows}

    def carrier_ids(self) -> set[str]:
        with self.engine.connect() as conn:
            rows = conn.exec_driver_sql("SELECT carrier_id FROM message_parts").all()
        return {str(r[0]) for r in rows}

    def unmatched_receipts(self) -> int:
        with self.engine.connect() as conn:
            return int(
                conn.exec_driver_sql(
                    "SELECT count(*) FROM receipts WHERE outcome = 'unmatched'"
                ).scalar()
                or 0
            )

    def non_terminal(self) -> int:
        counts = self.statuses()
        return sum(n for s, n in counts.items() if s not in TERMINAL)


def _signal_group(pid: int, sig: int) -> None:
    try:
        os.killpg(pid, sig)
    except (ProcessLookupError, PermissionError):
        pass


def kill_group(process: subprocess.Popen[bytes]) -> None:
    _signal_group(process.pid, signal.SIGKILL)
    process.wait()


def children_of(pid: int) -> list[int]:
    """Every live descendant of `pid`, from /proc."""
    parents: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if stat[0] != "Z":
                parents[int(entry.name)] = int(stat[1])
    found, frontier = [], [pid]
    while frontier:
        parent = frontier.pop()
        kids = [p for p, pp in parents.items() if pp == parent]
        found += kids
        frontier += kids
    return found


def alive(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return False
    return stat[0] != "Z"
