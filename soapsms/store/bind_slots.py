"""Cluster-wide carrier bind slots: PostgreSQL session advisory locks.

A connector with `max_binds = N` binds only while it holds one of N slots,
`pg_try_advisory_lock(<key of its name>, slot)`, each taken on a connection of
its own that lives as long as the bind. The server frees the lock when that
connection ends, however its holder ended (killed, cut off), so a slot is
never left taken by a node that is gone. The holder checks its connection
every `check_seconds`; once it is lost the slot may be taken elsewhere (the
locks are not replicated: a promoted standby starts with none), so it calls
`on_lost` and the connector drops its bind.

SQLite has a single dispatcher (its flock), so it needs no slots.
"""

from __future__ import annotations

import logging
import threading
import zlib
from collections.abc import Callable
from typing import Any

from sqlalchemy import Engine

logger = logging.getLogger(__name__)

CHECK_SECONDS = 1.0


def lock_key(connector: str) -> int:
    """The advisory lock's first key for a connector: a signed 32-bit hash."""
    value = zlib.crc32(f"soapsms-bind:{connector}".encode())
    return value - (1 << 32) if value >= 1 << 31 else value


class HeldSlot:
    """One bind slot, held until `release()` or until its connection is lost."""

    def __init__(
        self,
        raw: Any,
        connector: str,
        slot: int,
        on_lost: Callable[[], None],
        check_seconds: float,
    ) -> None:
        self.connector = connector
        self.slot = slot
        self._raw = raw
        self._on_lost = on_lost
        self._check_seconds = check_seconds
        self._lock = threading.Lock()
        self._done = threading.Event()
        self._thread = threading.Thread(
            target=self._watch, name=f"bind-slot-{connector}-{slot}", daemon=True
        )
        self._thread.start()

    def held(self) -> bool:
        return not self._done.is_set()

    def release(self) -> None:
        """Give the slot back (closing its connection frees the lock)."""
        with self._lock:
            if self._done.is_set():
                return
            self._done.set()
            _close(self._raw)

    def _watch(self) -> None:
        while not self._done.wait(self._check_seconds):
            with self._lock:
                if self._done.is_set():
                    return
                try:
                    with self._raw.cursor() as cursor:
                        cursor.execute("SELECT 1")
                    continue
                except Exception as exc:  # noqa: BLE001 - any failure loses it
                    logger.warning(
                        "connector %s: bind slot %d lost with its store "
                        "connection (%s)",
                        self.connector,
                        self.slot,
                        exc,
                    )
                    self._done.set()
                    _close(self._raw)
            self._on_lost()
            return


def _close(raw: Any) -> None:
    try:
        raw.close()
    except Exception:  # noqa: BLE001 - already broken: nothing to free
        pass


def take_slot(
    engine: Engine,
    connector: str,
    max_binds: int,
    on_lost: Callable[[], None],
    *,
    check_seconds: float = CHECK_SECONDS,
) -> HeldSlot | None:
    """One of `connector`'s `max_binds` slots, or None while all are held.
    Raises SQLAlchemy's errors when the store cannot be reached."""
    key = lock_key(connector)
    pooled = engine.raw_connection()
    raw: Any = pooled.driver_connection
    # A connection of its own for as long as the bind lasts: the lock is its.
    pooled.detach()
    try:
        raw.autocommit = True
        with raw.cursor() as cursor:
            for slot in range(max_binds):
                cursor.execute("SELECT pg_try_advisory_lock(%s, %s)", (key, slot))
                row = cursor.fetchone()
                if row is not None and row[0]:
                    return HeldSlot(raw, connector, slot, on_lost, check_seconds)
    except BaseException:
        _close(raw)
        raise
    _close(raw)
    return None
