"""The SMTP listener's lifecycle: its own event-loop thread, port 0, readiness."""

from __future__ import annotations

import asyncio
import logging
import signal
import ssl
import threading
import weakref
from concurrent.futures import ThreadPoolExecutor
from types import FrameType, TracebackType
from typing import Any

from aiosmtpd.smtp import SMTP

from soapsms.config import Settings
from soapsms.errors import ConfigError
from soapsms.smtp_ingress.handler import IngressHandler
from soapsms.smtp_ingress.notify import Notifier
from soapsms.usecases.runtime import Runtime

logger = logging.getLogger(__name__)


class _Connection(SMTP):
    # A body built with bare CRs (a widely copied VBScript sample does) has no
    # CRLF and reaches us as one SMTP "line"; RFC 5321's 1,000 octets would
    # refuse every such mail longer than a few lines. Commands keep their own
    # 512-octet limit.
    line_length_limit = 64 * 1024


def split_address(value: str) -> tuple[str, int]:
    """HOST:PORT (or [IPv6]:PORT) → (host, port)."""
    host, sep, port = value.rpartition(":")
    if not sep or not port.isdigit():
        raise ConfigError(f"expected HOST:PORT, got {value!r}")
    return host.strip("[]"), int(port)


class SmtpListener:
    """An aiosmtpd server on its own thread: start() returns once it listens
    (port 0 picks a free port, read back from `port`)."""

    def __init__(
        self,
        handler: Any,
        host: str,
        port: int,
        *,
        hostname: str = "localhost",
        data_size_limit: int | None = None,
        tls_context: ssl.SSLContext | None = None,
        require_starttls: bool = False,
        workers: int = 8,
    ) -> None:
        self.handler = handler
        self.host = host
        self.port = port
        self.hostname = hostname
        self.data_size_limit = data_size_limit
        self.tls_context = tls_context
        self.require_starttls = require_starttls
        self.workers = workers
        self._loop: asyncio.AbstractEventLoop | None = None
        self._server: asyncio.Server | None = None
        self._thread: threading.Thread | None = None
        self._ready = threading.Event()
        self._error: BaseException | None = None
        self._connections: weakref.WeakSet[SMTP] = weakref.WeakSet()

    def _factory(self) -> SMTP:
        assert self._loop is not None
        connection = _Connection(
            self.handler,
            hostname=self.hostname,
            ident="soapsms",
            data_size_limit=self.data_size_limit,
            enable_SMTPUTF8=True,
            tls_context=self.tls_context,
            require_starttls=self.require_starttls,
            loop=self._loop,
        )
        self._connections.add(connection)
        return connection

    def start(self, timeout: float = 10.0) -> None:
        """Bind and serve; raises what binding raised (e.g. address in use)."""
        assert self._thread is None, "already started"
        self._loop = asyncio.new_event_loop()
        self._loop.set_default_executor(
            ThreadPoolExecutor(self.workers, thread_name_prefix="soapsms-smtp")
        )
        self._thread = threading.Thread(
            target=self._serve, name="soapsms-smtp-loop", daemon=True
        )
        self._thread.start()
        if not self._ready.wait(timeout):
            raise TimeoutError(f"SMTP listener not ready after {timeout} s")
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
            self._server = loop.run_until_complete(
                loop.create_server(self._factory, self.host, self.port)
            )
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
        # A mail being stored right now may lose its 250 on the way out; the
        # sending server then retries and the Message-ID keeps it one batch.
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

    def _close_connections(self) -> None:
        for connection in list(self._connections):
            if connection.transport is not None:
                connection.transport.close()

    def __enter__(self) -> SmtpListener:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


def tls_context(settings: Settings) -> ssl.SSLContext | None:
    """The STARTTLS context when a certificate and key are configured."""
    if not settings.smtp_tls_cert:
        return None
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    try:
        context.load_cert_chain(settings.smtp_tls_cert, settings.smtp_tls_key)
    except (OSError, ssl.SSLError) as exc:
        raise ConfigError(
            f"smtp_tls_cert/smtp_tls_key cannot be loaded: {exc}"
        ) from exc
    return context


def build(runtime: Runtime, host: str, port: int) -> SmtpListener:
    """The ingress listener as the settings describe it (not yet started)."""
    settings = runtime.settings
    # aiosmtpd logs every command at INFO and the mail's lines (password
    # included) at DEBUG; our one line per mail says what matters.
    logging.getLogger("mail.log").setLevel(logging.WARNING)
    hostname = settings.smtp_address[0].rpartition("@")[2] or "localhost"
    notifier = None
    if settings.smtp_replies != "off":
        notifier = Notifier(
            settings.smtp_replies,
            split_address(settings.smtp_reply_relay),
            settings.smtp_reply_from or settings.smtp_address[0],
            hostname,
        )
    return SmtpListener(
        IngressHandler(runtime, notifier),
        host,
        port,
        hostname=hostname,
        data_size_limit=settings.smtp_max_message_bytes,
        tls_context=tls_context(settings),
        require_starttls=settings.smtp_require_tls,
    )


def run(runtime: Runtime, bind: str) -> int:
    """`soapsms smtp`: serve until SIGTERM or SIGINT."""
    host, port = split_address(bind)
    listener = build(runtime, host, port)
    try:
        listener.start()
    except OSError as exc:
        raise ConfigError(f"cannot listen for SMTP on {bind}: {exc}") from exc
    stopping = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stopping.set()

    previous = {
        sig: signal.signal(sig, on_signal) for sig in (signal.SIGTERM, signal.SIGINT)
    }
    # Tests and supervisors read this line as the readiness signal.
    print(f"soapsms smtp listening on {host}:{listener.port}", flush=True)
    try:
        stopping.wait()
    finally:
        listener.stop()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    return 0
