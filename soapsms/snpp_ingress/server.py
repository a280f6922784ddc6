"""The SNPP listener's lifecycle: its own event-loop thread, port 0, readiness."""

from __future__ import annotations

import asyncio
import logging

from soapsms.config import split_address
from soapsms.limits import SlidingWindow
from soapsms.loop_server import LoopServer
from soapsms.snpp_ingress.lines import MAX_LINE_BYTES
from soapsms.snpp_ingress.session import Session
from soapsms.usecases.runtime import Runtime

logger = logging.getLogger(__name__)


class SnppListener(LoopServer):
    """An asyncio SNPP server on its own thread (soapsms.loop_server)."""

    name = "snpp"

    def __init__(
        self,
        runtime: Runtime,
        host: str,
        port: int,
        *,
        idle_timeout: float | None = None,
        workers: int = 8,
    ) -> None:
        super().__init__(host, port, workers=workers)
        self.runtime = runtime
        self.idle_timeout = (
            idle_timeout
            if idle_timeout is not None
            else runtime.settings.snpp_idle_timeout_seconds
        )
        self.per_account = SlidingWindow(runtime.settings.snpp_rate_per_account)
        self._writers: set[asyncio.StreamWriter] = set()

    async def _connection(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        self._writers.add(writer)
        try:
            session = Session(
                self.runtime, reader, writer, self.idle_timeout, self.per_account
            )
            await session.serve()
        except (ConnectionError, TimeoutError):
            pass  # the client went away, or stopped reading our answers
        except Exception:
            logger.exception("snpp session failed unexpectedly")
        finally:
            self._writers.discard(writer)
            writer.close()

    async def _listen(self, loop: asyncio.AbstractEventLoop) -> asyncio.Server:
        return await asyncio.start_server(
            self._connection, self.host, self.port, limit=MAX_LINE_BYTES
        )

    def _close_connections(self) -> None:
        # A SEND being stored right now may lose its 250; nothing else is lost.
        for writer in list(self._writers):
            writer.close()


def run(runtime: Runtime, bind: str) -> int:
    """`soapsms snpp`: serve until SIGTERM or SIGINT."""
    host, port = split_address(bind)
    return SnppListener(runtime, host, port).run_until_signal(bind)
