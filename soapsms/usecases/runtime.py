"""The running gateway's shared state: settings, store engine, clock, login cache."""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Callable
from datetime import UTC, datetime

from soapsms.config import Settings
from soapsms.store import repository
from soapsms.store.db import StoreEngine, make_engine, transaction
from soapsms.store.stores import make_store


def utc_now() -> datetime:
    """Naive UTC, to the millisecond: the precision the contract promises."""
    now = datetime.now(UTC).replace(tzinfo=None)
    return now.replace(microsecond=now.microsecond // 1000 * 1000)


class Runtime:
    """One per process; created by an entry point, passed to every use case."""

    def __init__(
        self,
        settings: Settings,
        engine: StoreEngine | None = None,
        clock: Callable[[], datetime] = utc_now,
    ) -> None:
        self.settings = settings
        # What differs between databases, chosen once (store/base.py).
        self.store = make_store(
            engine
            if engine is not None
            else make_engine(
                settings.database_url, timeout=settings.store_timeout_seconds
            )
        )
        self.clock = clock
        # Whether a configured route serves an E.164 number (SendMessage
        # rejects the others as NO_ROUTE); the dispatcher routes by the same table.
        self.has_route: Callable[[str], bool] = lambda number: bool(
            settings.routes.connectors_for(number)
        )
        self._secret: bytes | None = None
        self._lock = threading.Lock()
        # Imported here to keep the module graph one-way (auth uses Runtime).
        from soapsms.usecases.auth import Authenticator

        self.authenticator = Authenticator(settings)

    @property
    def engine(self) -> StoreEngine:
        return self.store.engine

    @engine.setter
    def engine(self, engine: StoreEngine) -> None:
        self.store = make_store(engine)

    def now(self) -> datetime:
        return self.clock()

    def secret(self) -> bytes:
        """The gateway-wide secret (from the store), for cursors and the like."""
        if self._secret is None:
            with self._lock:
                if self._secret is None:
                    with transaction(self.engine) as conn:
                        value = repository.get_meta(conn, "secret") or ""
                    self._secret = hashlib.sha256(value.encode()).digest()
        return self._secret

    def close(self) -> None:
        self.engine.dispose()
