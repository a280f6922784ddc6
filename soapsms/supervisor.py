"""The companions of `soapsms serve`: restarted with back-off, never orphaned.

`serve` runs a few processes beside gunicorn (the dispatcher, the SMTP
ingress). A companion that exits while serve runs is started again after a
pause that doubles from 1 s to 30 s, and falls back to 1 s once a companion
has run for a stable minute. Each companion dies with its master, however the
master ended (SIGKILL included): on Linux the kernel sends it SIGTERM when
the master goes (PR_SET_PDEATHSIG, set in the child by `bind_to_parent`), and
a thread in the child watches its parent pid as well, for other systems and
for the moment before the first.
"""

from __future__ import annotations

import ctypes
import logging
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

logger = logging.getLogger(__name__)

# Set in a companion's environment: the pid of the serve that started it.
PARENT_ENV = "SOAPSMS_SUPERVISOR_PID"
FIRST_DELAY = 1.0
LONGEST_DELAY = 30.0
STABLE_SECONDS = 60.0
STOP_SECONDS = 20.0
_LOOK_EVERY = 0.2  # seconds between looks at the companions
_PR_SET_PDEATHSIG = 1


@dataclass
class _Companion:
    """One companion command and its current process."""

    argv: list[str]
    env: dict[str, str]
    process: subprocess.Popen[bytes] | None = None
    started: float = 0.0
    delay: float = FIRST_DELAY
    restart_at: float | None = field(default=None)

    @property
    def name(self) -> str:
        return " ".join(self.argv)


class Supervisor:
    """Starts `soapsms <argv…>` for each companion and keeps it running until
    `stop()`; one thread does it all, so that the companions' parent thread
    (which PR_SET_PDEATHSIG follows) lives as long as they should."""

    def __init__(
        self, companions: Sequence[tuple[Sequence[str], Mapping[str, str]]]
    ) -> None:
        self._companions = [
            _Companion(list(argv), {**env, PARENT_ENV: str(os.getpid())})
            for argv, env in companions
        ]
        self._stopping = threading.Event()
        self._started = threading.Event()
        self._thread = threading.Thread(
            target=self._run, name="supervisor", daemon=True
        )

    def start(self) -> None:
        """Start every companion (returns once they are started)."""
        self._thread.start()
        self._started.wait()

    def stop(self) -> None:
        """SIGTERM every companion, wait up to STOP_SECONDS, then SIGKILL."""
        self._stopping.set()
        if self._thread.is_alive():
            self._thread.join()

    def pids(self) -> list[int]:
        return [c.process.pid for c in self._companions if c.process is not None]

    def _run(self) -> None:
        try:
            for companion in self._companions:
                self._spawn(companion, time.monotonic())
        finally:
            self._started.set()
        while not self._stopping.wait(_LOOK_EVERY):
            for companion in self._companions:
                self._look_after(companion, time.monotonic())
        self._stop_all()

    def _spawn(self, companion: _Companion, now: float) -> None:
        companion.restart_at = None
        companion.started = now
        try:
            companion.process = subprocess.Popen(
                [sys.executable, "-m", "soapsms.cli", *companion.argv],
                env=companion.env,
            )
        except OSError as exc:
            logger.error("could not start companion %s: %s", companion.name, exc)
            companion.process = None
            self._schedule(companion, now)

    def _look_after(self, companion: _Companion, now: float) -> None:
        if companion.restart_at is not None:
            if now >= companion.restart_at:
                logger.warning("restarting companion %s", companion.name)
                self._spawn(companion, now)
            return
        process = companion.process
        if process is None or process.poll() is None:
            return
        # gunicorn's arbiter reaps every child too: the code may read 0 then.
        if now - companion.started >= STABLE_SECONDS:
            companion.delay = FIRST_DELAY
        logger.error(
            "companion %s (pid %d) exited with code %s; restarting in %g s",
            companion.name,
            process.pid,
            process.returncode,
            companion.delay,
        )
        self._schedule(companion, now)

    def _schedule(self, companion: _Companion, now: float) -> None:
        companion.restart_at = now + companion.delay
        companion.delay = min(companion.delay * 2, LONGEST_DELAY)

    def _stop_all(self) -> None:
        running = [
            c.process
            for c in self._companions
            if c.process is not None and c.process.poll() is None
        ]
        for process in running:
            process.send_signal(signal.SIGTERM)
        for process in running:
            try:
                process.wait(timeout=STOP_SECONDS)
            except subprocess.TimeoutExpired:
                logger.warning("companion %s did not stop; killing it", process.args)
                process.kill()
                process.wait()


def die_with_parent(signum: int) -> None:
    """Have the kernel send this process `signum` when its parent dies, however
    it dies (Linux; elsewhere nothing)."""
    if sys.platform.startswith("linux"):
        libc = ctypes.CDLL(None, use_errno=True)
        if libc.prctl(_PR_SET_PDEATHSIG, signum, 0, 0, 0) != 0:
            logger.warning(
                "prctl(PR_SET_PDEATHSIG) failed: errno %d", ctypes.get_errno()
            )


def bind_to_parent() -> None:
    """In a companion: receive SIGTERM when the serve that started it dies.
    Does nothing in a process `serve` did not start."""
    expected = os.environ.pop(PARENT_ENV, "")
    if not expected.isdigit():
        return
    parent = int(expected)
    die_with_parent(signal.SIGTERM)
    threading.Thread(
        target=_watch_parent, args=(parent,), name="parent-watch", daemon=True
    ).start()


def _watch_parent(parent: int) -> None:
    # Checked before the first wait: the parent may have died before prctl.
    while os.getppid() == parent:
        time.sleep(1.0)
    logger.error("serve (pid %d) is gone; stopping", parent)
    os.kill(os.getpid(), signal.SIGTERM)
