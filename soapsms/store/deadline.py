"""Client-side deadlines: a transaction that overruns has its socket shut down.

The server-side bounds (statement and lock timeouts) need a server that
answers, and TCP keepalives and user timeouts need a peer whose kernel stops
acknowledging; a proxy in between, or a hung server whose kernel still ACKs,
defeats both, and the driver would wait for ever. So each transaction on
PostgreSQL is armed with its deadline here, and one thread per process shuts
the connection's socket down when a deadline passes: the blocked driver call
then fails at once, and the caller gets errors.Unavailable. Arming costs a
dictionary entry, no round trip.
"""

from __future__ import annotations

import itertools
import logging
import os
import socket
import threading
import time
from typing import Any

logger = logging.getLogger(__name__)

_TICK = 0.05  # seconds between looks at the deadlines: the bound's slack


class Watchdog:
    """Deadlines of the transactions in flight in this process."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._armed: dict[int, tuple[float, Any]] = {}
        self._tokens = itertools.count()
        self._pid = -1

    def arm(self, seconds: float, raw: Any) -> int:
        """Watch `raw` (a psycopg connection) for `seconds`; a token to disarm."""
        token = next(self._tokens)
        with self._lock:
            if self._pid != os.getpid():  # first use, or a forked child
                self._pid = os.getpid()
                self._armed.clear()
                threading.Thread(
                    target=self._watch, name="store-deadline", daemon=True
                ).start()
            self._armed[token] = (time.monotonic() + seconds, raw)
        return token

    def disarm(self, token: int) -> None:
        # Under the lock: once this returns, the socket is never shut down for
        # this transaction, even as the connection goes back to the pool.
        with self._lock:
            self._armed.pop(token, None)

    def _watch(self) -> None:
        pid = os.getpid()
        while self._pid == pid:
            time.sleep(_TICK)
            now = time.monotonic()
            with self._lock:
                late = [t for t, (at, _raw) in self._armed.items() if at <= now]
                for token in late:
                    _at, raw = self._armed.pop(token)
                    _shut_down(raw)


def _shut_down(raw: Any) -> None:
    try:
        fd = raw.pgconn.socket
    except Exception:  # noqa: BLE001 - already closed: nothing to interrupt
        return
    logger.warning("store transaction overran its deadline; cutting its connection")
    try:
        # A duplicate of the descriptor: shutting it down ends the shared socket
        # for the driver too, while closing it leaves the driver's fd alone.
        with socket.socket(fileno=os.dup(fd)) as sock:
            sock.shutdown(socket.SHUT_RDWR)
    except OSError as exc:
        logger.warning("could not cut the overrunning connection: %s", exc)


watchdog = Watchdog()
