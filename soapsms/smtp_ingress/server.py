"""The SMTP listener's lifecycle: its own event-loop thread, port 0, readiness."""

from __future__ import annotations

import asyncio
import logging
import ssl
import weakref
from typing import Any

from aiosmtpd.smtp import SMTP

from soapsms.config import Settings, split_address
from soapsms.errors import ConfigError
from soapsms.loop_server import LoopServer
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


class SmtpListener(LoopServer):
    """An aiosmtpd server on its own thread (soapsms.loop_server)."""

    name = "smtp"

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
        super().__init__(host, port, workers=workers)
        self.handler = handler
        self.hostname = hostname
        self.data_size_limit = data_size_limit
        self.tls_context = tls_context
        self.require_starttls = require_starttls
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

    async def _listen(self, loop: asyncio.AbstractEventLoop) -> asyncio.Server:
        return await loop.create_server(self._factory, self.host, self.port)

    def _close_connections(self) -> None:
        for connection in list(self._connections):
            if connection.transport is not None:
                connection.transport.close()


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
    return build(runtime, host, port).run_until_signal(bind)
