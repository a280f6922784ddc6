"""Gunicorn servers as subprocesses: started, polled on /health, always stopped."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from pathlib import Path

import requests

BIN = Path(sys.executable).parent
HERE = Path(__file__).resolve().parent
STARTUP_SECONDS = 60.0
_TICKS = os.sysconf("SC_CLK_TCK")


@dataclass(frozen=True)
class Server:
    """A running gunicorn: its base URL and its master's pid."""

    url: str
    pid: int

    def workers(self) -> list[int]:
        """The master's children that are gunicorn workers (same command line)."""
        own = _cmdline(self.pid)
        children: list[int] = []
        for task in Path(f"/proc/{self.pid}/task").iterdir():
            text = (task / "children").read_text()
            children.extend(int(p) for p in text.split())
        return [p for p in children if _cmdline(p) == own]

    def worker_cpu(self) -> dict[int, float]:
        """CPU seconds (user + system) used so far by each worker."""
        seconds: dict[int, float] = {}
        for pid in self.workers():
            try:
                fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1]
            except FileNotFoundError:
                continue
            values = fields.split()
            seconds[pid] = (int(values[11]) + int(values[12])) / _TICKS
        return seconds


def _cmdline(pid: int) -> bytes:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes()
    except FileNotFoundError:
        return b""


def free_port() -> int:
    """A loopback port nobody listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _environment(database_url: str | None) -> dict[str, str]:
    """This environment without any SOAPSMS_* setting, plus the bench's own."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("SOAPSMS_")}
    env["SOAPSMS_LOG_LEVEL"] = "WARNING"
    env["SOAPSMS_CARRIER"] = "simulator"
    if database_url is not None:
        env["SOAPSMS_DATABASE_URL"] = database_url
    return env


def _wait_healthy(process: subprocess.Popen[bytes], url: str, log: Path) -> None:
    """Poll /health until 200; between polls, wait on the process itself."""
    session = requests.Session()
    deadline = time.monotonic() + STARTUP_SECONDS
    while time.monotonic() < deadline:
        try:
            if session.get(url + "/health", timeout=2).status_code == 200:
                return
        except requests.ConnectionError:
            pass
        try:
            process.wait(timeout=0.1)
        except subprocess.TimeoutExpired:
            continue
        break  # the server exited
    raise RuntimeError(f"server at {url} did not start:\n{log.read_text()[-3000:]}")


def _stop(process: subprocess.Popen[bytes]) -> None:
    """SIGTERM to the server's process group, then SIGKILL to whatever is left."""
    try:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=25)
    except subprocess.TimeoutExpired:
        pass
    except ProcessLookupError:
        return
    try:
        os.killpg(process.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    process.wait(timeout=10)


@contextmanager
def _serve(
    command: Sequence[str], database_url: str | None, log: Path
) -> Iterator[Server]:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    with log.open("wb") as out:  # the child keeps its own copy of the descriptor
        process = subprocess.Popen(
            [*command, "--bind", f"127.0.0.1:{port}", "--workers", "2"],
            env=_environment(database_url),
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group, killed as one
        )
    try:
        _wait_healthy(process, url, log)
        yield Server(url, process.pid)
    finally:
        _stop(process)


def soapsms(
    database_url: str, log: Path, *, dispatch: bool = False
) -> AbstractContextManager[Server]:
    """`soapsms serve --workers 2` on a free loopback port, for `database_url`.

    The SOAP web workers only, unless `dispatch`: the dispatcher companion would
    deliver (and rewrite) the bench's messages on the same two cores while they
    are measured, and the SMTP and SNPP companions' fixed ports may be taken on this machine.
    """
    command = [str(BIN / "soapsms"), "serve", "--smtp-bind", "off"]
    command += ["--snpp-bind", "off", "--dispatch", "on" if dispatch else "off"]
    return _serve(command, database_url, log)


def echo(log: Path) -> AbstractContextManager[Server]:
    """The bare Spyne echo service under the same gunicorn settings."""
    return _serve([sys.executable, str(HERE / "echo_app.py")], None, log)
