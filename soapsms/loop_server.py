"""An asyncio server on a thread of its own: the SMTP and SNPP ingresses' lifecycle.

start() returns once it listens (port 0 picks a free port, read back from
`port`) or raises what binding raised; stop() closes the connections, lets
their tasks end and joins the thread. A subclass says how to listen and how
to close its connections.
"""

from __future__ import annotations

import asyncio
import signal
import threading
from concurrent.futures import ThreadPoolExecutor
from types import FrameType, TracebackType
from typing import Self

from soapsms.errors import ConfigError


class LoopServer:
    """Subclasses implement `_listen` and may override `_close_connections`."""

    name = "server"  # in thread names and errors

    def __init__(self, host: str, port: int, *, workers: int = 8) -> None:
        self.host = host
        self.port = port
        self.workers = workers
        self._loop: asyncio.AbstractEventLoop | None = None
        self._server: asyncio.Server | None = None
        self._thread: threading.Thread | None = None
        self._ready = threading.Event()
        self._error: BaseException | None = None

    async def _listen(self, loop: asyncio.AbstractEventLoop) -> asyncio.Server:
        raise NotImplementedError

    def _close_connections(self) -> None:
        """Called on the loop as it stops: close what is still connected."""

    def start(self, timeout: float = 10.0) -> None:
        """Bind and serve; raises what binding raised (e.g. address in use)."""
        assert self._thread is None, "already started"
        self._loop = asyncio.new_event_loop()
        self._loop.set_default_executor(
            ThreadPoolExecutor(self.workers, thread_name_prefix=f"soapsms-{self.name}")
        )
        self._thread = threading.Thread(
            target=self._serve, name=f"soapsms-{self.name}-loop", daemon=True
        )
        self._thread.start()
        if not self._ready.wait(timeout):
            raise TimeoutError(f"{self.name} listener not ready after {timeout} s")
        if self._error is not None:
            self._thread.join()
            self._thread = None
            raise self._error
        assert self._server is not None
        self.port = self._server.sockets[0].getsockname()[1]

    def _serve(self) -> None:
        loop = self._loop
        assert loop is not None
        asyncio.set_event_loop(loop)
        try:
            self._server = loop.run_until_complete(self._listen(loop))
        except BaseException as exc:  # noqa: BLE001 - handed to start()
            self._error = exc
            loop.run_until_complete(loop.shutdown_default_executor())
            loop.close()
            self._ready.set()
            return
        self._ready.set()
        loop.run_forever()
        self._shutdown(loop, self._server)

    @staticmethod
    def _shutdown(loop: asyncio.AbstractEventLoop, server: asyncio.Server) -> None:
        # A message being stored right now may lose its answer on the way out
        # (an SMTP sender retries, and the Message-ID keeps it one batch).
        server.close()
        tasks = asyncio.all_tasks(loop)
        for task in tasks:
            task.cancel()
        loop.run_until_complete(asyncio.gather(*tasks, return_exceptions=True))
        loop.run_until_complete(server.wait_closed())
        loop.run_until_complete(loop.shutdown_default_executor())
        loop.close()

    def stop(self) -> None:
        if self._thread is None or self._loop is None:
            return
        loop = self._loop
        loop.call_soon_threadsafe(self._close_connections)
        loop.call_soon_threadsafe(loop.stop)
        self._thread.join()
        self._thread = None

    def run_until_signal(self, bind: str) -> int:
        """`soapsms smtp|snpp`: serve until SIGTERM or SIGINT; one clear line
        (ConfigError) when the address cannot be listened on."""
        try:
            self.start()
        except OSError as exc:
            raise ConfigError(
                f"cannot listen for {self.name.upper()} on {bind}: {exc}"
            ) from exc
        stopping = threading.Event()

        def on_signal(signum: int, frame: FrameType | None) -> None:
            stopping.set()

        previous = {
            sig: signal.signal(sig, on_signal)
            for sig in (signal.SIGTERM, signal.SIGINT)
        }
        # Tests and supervisors read this line as the readiness signal.
        print(f"soapsms {self.name} listening on {self.host}:{self.port}", flush=True)
        try:
            stopping.wait()
        finally:
            self.stop()
            for sig, handler in previous.items():
                signal.signal(sig, handler)
        return 0

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
