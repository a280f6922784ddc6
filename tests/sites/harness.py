"""Two sites on one machine: namespaces for db1 (primary), db2 (standby),
node a, node b, the SMSC and the clients; each node a `soapsms serve` (web
workers + dispatcher) on a libpq multi-host URL, in a cpuacct cgroup of its
own so its CPU can be read. Everything is torn down on exit, also on failure.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

from tests.sites import net, pg
from tests.sites.net import Lan

ROOT = Path(__file__).resolve().parents[2]
PYTHON = sys.executable
SOAPSMS = str(Path(sys.executable).with_name("soapsms"))
CGROUP = Path("/sys/fs/cgroup/cpuacct")
HOSTS = ("db1", "db2", "a", "b", "smsc", "client")
WEB_PORT = 8000


def missing() -> str | None:
    """Why the two sites cannot be built here, or None."""
    why = net.missing() or pg.missing()
    if why:
        return why
    if not (CGROUP / "cgroup.procs").exists():
        return f"no cgroup v1 cpuacct hierarchy at {CGROUP} to measure CPU with"
    if subprocess.run(["which", "curl"], capture_output=True).returncode:
        return "curl is missing (it probes the nodes' /health)"
    return None


class Node:
    """`soapsms serve` in a namespace and a cgroup of its own."""

    def __init__(self, sites: Sites, host: str) -> None:
        self.sites, self.host = sites, host
        self.cgroup = CGROUP / f"{sites.lan.prefix}-{host}"
        self.log = sites.dir / f"node-{host}.log"
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://{self.sites.lan.hosts[self.host]}:{WEB_PORT}"

    def start(self) -> None:
        self.cgroup.mkdir(exist_ok=True)
        config = self.sites.dir / f"node-{self.host}.ini"
        config.write_text(self.sites.node_config(self.host))
        argv = self.sites.lan.command(
            self.host, [SOAPSMS, "--config", str(config), "serve"]
        )
        # The shell joins the cgroup, then becomes the node: its processes
        # (gunicorn, its workers, the dispatcher) are all counted there.
        script = f'echo $$ > {self.cgroup}/cgroup.procs && exec "$@"'
        env = {"PATH": os.environ["PATH"], "PYTHONUNBUFFERED": "1", "HOME": "/tmp"}
        with self.log.open("ab") as log:
            self.process = subprocess.Popen(
                ["sh", "-c", script, "node", *argv],
                stdout=log,
                stderr=subprocess.STDOUT,
                env=env,
                cwd=self.sites.dir,
                start_new_session=True,
            )

    def pids(self) -> list[int]:
        try:
            text = (self.cgroup / "cgroup.procs").read_text()
        except OSError:
            return []
        return [int(p) for p in text.split()]

    def cpu_seconds(self) -> float:
        """CPU of every process the node ever ran (the cgroup's own count)."""
        try:
            return int((self.cgroup / "cpuacct.usage").read_text()) / 1e9
        except OSError:
            return 0.0

    def cpu_by_process(self) -> dict[int, tuple[str, float]]:
        """{pid: (role, CPU seconds)} of the live processes; the role is the
        dispatcher's or the rest's (web)."""
        tick = os.sysconf("SC_CLK_TCK")
        found: dict[int, tuple[str, float]] = {}
        for pid in self.pids():
            try:
                cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
                fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1]
            except OSError:
                continue
            utime, stime = (int(v) for v in fields.split()[11:13])
            role = "dispatch" if b"dispatch" in cmdline else "web"
            found[pid] = (role, (utime + stime) / tick)
        return found

    def cpu_by_role(self, since: dict[int, tuple[str, float]]) -> dict[str, float]:
        """CPU of the live processes since `since` (a `cpu_by_process`), by
        role: what they spent starting up is not a message's."""
        roles = {"dispatch": 0.0, "web": 0.0}
        for pid, (role, seconds) in self.cpu_by_process().items():
            roles[role] += seconds - since.get(pid, (role, 0.0))[1]
        return roles

    def kill(self) -> None:
        """SIGKILL every process of the node at once (a machine lost)."""
        for _ in range(5):
            pids = self.pids()
            if not pids:
                break
            for pid in pids:
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
            time.sleep(0.1)
        if self.process is not None:
            self.process.wait(timeout=10)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                pass
        self.kill()
        try:
            self.cgroup.rmdir()
        except OSError:
            pass


class Sites:
    """The whole set-up; use as a context manager."""

    def __init__(
        self,
        *,
        synchronous: bool,
        max_binds: int = 2,
        lease_seconds: float = 10.0,
        store_timeout: float = 4.0,  # 2 s a silent host while connecting
        workers: int = 2,
    ) -> None:
        self.synchronous = synchronous
        self.max_binds = max_binds
        self.lease_seconds = lease_seconds
        self.store_timeout = store_timeout
        self.workers = workers
        self.lan = Lan(f"sites{uuid.uuid4().hex[:6]}")
        self.dir = Path(tempfile.mkdtemp(prefix="soapsms-sites-"))
        os.chmod(self.dir, 0o755)
        self.nodes = {"a": Node(self, "a"), "b": Node(self, "b")}
        self.smsc: subprocess.Popen[str] | None = None
        self.smsc_port = 0
        self.primary: pg.Server | None = None
        self.standby: pg.Server | None = None
        self._clients: list[Clients] = []

    # --- building -------------------------------------------------------------

    def __enter__(self) -> Sites:
        try:
            self.lan.start(HOSTS)
            self._start_smsc()
            self.primary = pg.Server(self.lan, "db1", self.dir / "pg" / "primary")
            self.standby = pg.Server(self.lan, "db2", self.dir / "pg" / "standby")
            pg.make_pair(self.primary, self.standby, self.synchronous)
            self.python("client", "-m", "tests.sites.ledger", "setup", self.db_url)
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    @property
    def db_url(self) -> str:
        hosts = ",".join(f"{self.lan.hosts[h]}:{pg.PORT}" for h in ("db1", "db2"))
        return (
            f"postgresql://{pg.USER}@{hosts}/{pg.DATABASE}"
            "?target_session_attrs=read-write"
        )

    def node_config(self, host: str) -> str:
        return (
            "[soapsms]\n"
            f"database_url = {self.db_url}\n"
            f"bind = {self.lan.hosts[host]}:{WEB_PORT}\n"
            f"workers = {self.workers}\n"
            f"store_timeout_seconds = {self.store_timeout}\n"
            f"dispatch_lease_seconds = {self.lease_seconds}\n"
            "smtp_bind = off\n"
            "log_level = WARNING\n"
            "[connector:carrier]\n"
            "type = smpp\n"
            f"host = {self.lan.hosts['smsc']}\n"
            f"port = {self.smsc_port}\n"
            "system_id = soapsms\n"
            "password = secret\n"
            f"max_binds = {self.max_binds}\n"
            "reconnect_min_seconds = 0.2\n"
            "reconnect_max_seconds = 2\n"
            "[routes]\n"
            "default = carrier\n"
        )

    def _start_smsc(self) -> None:
        self.smsc = subprocess.Popen(
            self.lan.command(
                "smsc",
                [
                    PYTHON,
                    "-m",
                    "tests.sites.smsc",
                    self.lan.hosts["smsc"],
                    str(self.dir / "smsc.json"),
                ],
            ),  # fmt: skip
            stdout=subprocess.PIPE,
            text=True,
            cwd=ROOT,
        )
        assert self.smsc.stdout is not None
        self.smsc_port = int(self.smsc.stdout.readline())

    def python(self, host: str, *argv: str, timeout: float = 120) -> str:
        done = subprocess.run(
            self.lan.command(host, [PYTHON, *argv]),
            capture_output=True,
            text=True,
            timeout=timeout,
            cwd=ROOT,
        )
        if done.returncode:
            raise RuntimeError(f"{argv}: {done.stderr.strip()[-2000:]}")
        return done.stdout

    def start_nodes(self, *hosts: str, timeout: float = 60) -> None:
        for host in hosts:
            self.nodes[host].start()
        for host in hosts:
            self.wait_healthy(host, timeout)

    def health(self, host: str) -> int:
        done = subprocess.run(
            self.lan.command(
                "client",
                [
                    "curl",
                    "-s",
                    "-o",
                    "/dev/null",
                    "-w",
                    "%{http_code}",
                    "--max-time",
                    "2",
                    f"{self.nodes[host].url}/health",
                ],
            ),  # fmt: skip
            capture_output=True,
            text=True,
            timeout=10,
        )
        return int(done.stdout or 0)

    def wait_healthy(self, host: str, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while self.health(host) != 200:
            process = self.nodes[host].process
            if process is not None and process.poll() is not None:
                raise RuntimeError(f"node {host} exited: {self.tail(host)}")
            if time.monotonic() > deadline:
                raise RuntimeError(f"node {host} not healthy: {self.tail(host)}")
            time.sleep(0.3)

    def tail(self, host: str) -> str:
        try:
            return self.nodes[host].log.read_text()[-3000:]
        except OSError:
            return ""

    # --- running --------------------------------------------------------------

    def clients(
        self,
        first: int,
        count: int,
        sites: tuple[str, ...],
        *,
        prefix: str,
        threads: int = 8,
        alternate: bool = False,
        rate: float = 0.0,
    ) -> Clients:
        clients = Clients(self, first, count, sites, prefix, threads, alternate, rate)
        self._clients.append(clients)
        return clients

    def stored(self, prefix: str) -> dict[str, list[str]]:
        """{reference: [status of each stored message]} on the current primary."""
        out = self.python("client", "-m", "tests.sites.ledger", "count",
                          self.db_url, prefix)  # fmt: skip
        result: dict[str, list[str]] = json.loads(out)
        return result

    def wait_dispatched(
        self, prefix: str, timeout: float
    ) -> tuple[dict[str, Any], float]:
        """Poll the store until no message of `prefix` waits for the carrier."""
        started = time.monotonic()
        while True:
            stored = self.stored(prefix)
            waiting = sum(
                s in ("QUEUED", "SCHEDULED")
                for states in stored.values()
                for s in states
            )
            if not waiting or time.monotonic() - started > timeout:
                return stored, time.monotonic() - started
            time.sleep(1.0)

    def carrier_submits(self) -> dict[str, int]:
        """Stops the SMSC; {text: times submitted}."""
        if self.smsc is None:
            return {}
        self.smsc.terminate()
        self.smsc.wait(timeout=30)
        if self.smsc.stdout is not None:
            self.smsc.stdout.close()
        self.smsc = None
        summary = json.loads((self.dir / "smsc.json").read_text())
        submits: dict[str, int] = summary["submits"]
        return submits

    def close(self) -> None:
        for clients in self._clients:
            if clients.process.poll() is None:
                clients.process.kill()
                clients.process.wait(timeout=10)
        for node in self.nodes.values():
            try:
                node.stop()
            except Exception:  # noqa: BLE001 - tear down the rest regardless
                pass
        if self.smsc is not None:
            self.smsc.kill()
            self.smsc.wait(timeout=10)
            if self.smsc.stdout is not None:
                self.smsc.stdout.close()
            self.smsc = None
        for server in (self.primary, self.standby):
            if server is not None:
                server.stop()
        self.lan.close()
        pg.remove(self.dir)


class Clients:
    """A client process in the clients' namespace (tests/sites/client.py)."""

    def __init__(
        self,
        sites: Sites,
        first: int,
        count: int,
        hosts: tuple[str, ...],
        prefix: str,
        threads: int,
        alternate: bool,
        rate: float,
    ) -> None:
        self.sites = sites
        self.out = sites.dir / f"clients-{prefix}.json"
        self.progress_file = sites.dir / f"clients-{prefix}.progress"
        urls = ",".join(sites.nodes[h].url for h in hosts)
        argv = [PYTHON, "-m", "tests.sites.client", str(self.out),
                str(self.progress_file), urls, str(first), str(count),
                "--threads", str(threads), "--prefix", prefix]  # fmt: skip
        if alternate:
            argv.append("--alternate")
        if rate:
            argv += ["--rate", str(rate)]
        self.process = subprocess.Popen(
            sites.lan.command("client", argv), cwd=ROOT, stderr=subprocess.PIPE
        )

    def progress(self) -> int:
        try:
            return int(self.progress_file.read_text() or 0)
        except (OSError, ValueError):
            return 0

    def wait_progress(self, count: int, timeout: float = 300) -> None:
        deadline = time.monotonic() + timeout
        while self.progress() < count:
            if self.process.poll() is not None or time.monotonic() > deadline:
                return
            time.sleep(0.05)

    def results(self, timeout: float = 600) -> list[dict[str, Any]]:
        _, err = self.process.communicate(timeout=timeout)
        if self.process.returncode:
            raise RuntimeError(f"clients failed: {err.decode()[-2000:]}")
        records: list[dict[str, Any]] = json.loads(self.out.read_text())
        return records

    def cpu_seconds(self) -> float:
        """The client process's own CPU time, once `results()` returned."""
        return float(Path(f"{self.out}.cpu").read_text())
