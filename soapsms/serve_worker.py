"""gunicorn's gthread worker, but a thread only ever gets a complete request.

gthread hands a new connection to a thread that waits for its request: a
client that sends nothing, or trickles its headers or body a byte at a time,
holds that thread (16 such connections held every thread of a 4-worker
gateway). Here the worker's event loop reads each request, head and body,
into a buffer first, within deadlines (HEAD_SECONDS for the head, then
BODY_SECONDS plus one second per MIN_BODY_RATE bytes), and only a complete
request goes to a thread, its bytes already in the parser's buffer. Each
source (an IPv4 address, an IPv6 /64) holds at most PER_SOURCE connections
per worker, more are closed at once; the trusted proxies (nginx opens as
many upstream connections as it has requests) are not counted. TLS
handshakes (direct TLS) are done in the loop too. nginx in front
(deploy/nginx/) remains the production shape; this keeps a bare port
standing.
"""

from __future__ import annotations

import errno
import ipaddress
import re
import selectors
import socket
import ssl
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from typing import Any

from gunicorn import http
from gunicorn.workers.gthread import TConn, ThreadWorker

from soapsms.config import load_settings
from soapsms.errors import ConfigError

HEAD_SECONDS = 10.0
BODY_SECONDS = 30.0
MIN_BODY_RATE = 50_000  # bytes a second a slow but honest client manages
MAX_HEAD_BYTES = 64 * 1024
PER_SOURCE = 64
# Bodies beyond this are handed over once the head is in: the app answers
# 413 without reading them (soapsms's max_body_bytes is 5 MiB).
MAX_BUFFERED_BODY = 6 * 1024 * 1024

_CONTENT_LENGTH = re.compile(rb"(?im)^content-length:[ \t]*(\d+)[ \t]*\r?$")
_CHUNKED = re.compile(rb"(?im)^transfer-encoding:[^\r\n]*chunked")
_EXPECT = re.compile(rb"(?im)^expect:[ \t]*100-continue")
# /health gets threads of its own: a load balancer's probe must be answered
# (within usecases.health's bound) while every request thread waits out the
# store timeout on a silent store.
_PROBE = re.compile(rb"(?:GET|HEAD) /health[ ?]")
PROBE_THREADS = 2
_TIMEOUT_REPLY = (
    b"HTTP/1.1 408 Request Timeout\r\nConnection: close\r\nContent-Length: 0\r\n\r\n"
)
_TOO_LARGE_REPLY = (
    b"HTTP/1.1 431 Request Header Fields Too Large\r\n"
    b"Connection: close\r\nContent-Length: 0\r\n\r\n"
)


def source_of(address: Any) -> str:
    """What connections are counted by: an IPv4 address or an IPv6 /64."""
    host = address[0] if isinstance(address, tuple) and address else str(address)
    try:
        ip = ipaddress.ip_address(host)
    except ValueError:
        return str(host)
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return str(ip.ipv4_mapped)
        return str(ipaddress.IPv6Network(f"{ip}/64", strict=False))
    return str(ip)


def request_complete(buf: bytes | bytearray) -> int | None:
    """How many bytes the request in `buf` has in all once complete (-1: as
    many as there are, for chunked bodies once their last chunk is in), or
    None while its head is not complete."""
    end = buf.find(b"\r\n\r\n")
    if end < 0:
        return None
    head = bytes(buf[: end + 4])
    if _CHUNKED.search(head):
        done = buf.endswith(b"0\r\n\r\n") or len(buf) > MAX_BUFFERED_BODY
        return -1 if done else len(buf) + 1
    match = _CONTENT_LENGTH.search(head)
    length = int(match.group(1)) if match else 0
    if length > MAX_BUFFERED_BODY:
        return len(head)  # the app refuses it unread
    return len(head) + length


class _Conn(TConn):  # type: ignore[misc]
    """A connection that tells its worker when it closes (for the per-source
    count) and remembers what it buffered."""

    def __init__(self, worker: GuardedThreadWorker, *args: Any) -> None:
        super().__init__(*args)
        self.worker = worker
        self.source = source_of(self.client)
        self.buffer = bytearray()
        self.deadline = 0.0
        self.head_seen = False
        self.continued = False
        self.handshaken = not self.cfg.is_ssl
        self.closed = False

    def close(self, graceful: bool = False) -> None:
        if not self.closed:
            self.closed = True
            self.worker.per_source[self.source] -= 1
            if self.worker.per_source[self.source] <= 0:
                del self.worker.per_source[self.source]
        super().close(graceful)


class GuardedThreadWorker(ThreadWorker):  # type: ignore[misc]
    """gthread with the request read by the event loop (see the module)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.per_source: Counter[str] = Counter()
        self.reading: set[_Conn] = set()
        try:
            self.trusted = load_settings().trusted_networks
        except ConfigError:
            self.trusted = ()  # the app reports it; nobody is exempt meanwhile

    def init_process(self) -> None:
        # In the worker, after the fork, as gthread makes its own pool.
        self.probes = ThreadPoolExecutor(PROBE_THREADS, "health")
        super().init_process()

    def _capped(self, address: Any) -> bool:
        host = address[0] if isinstance(address, tuple) and address else ""
        try:
            ip = ipaddress.ip_address(host)
        except ValueError:
            return True
        return not any(ip in net for net in self.trusted)

    def accept(self, listener: socket.socket) -> None:
        try:
            client_sock, client_addr = listener.accept()
        except OSError as exc:
            if exc.errno not in (errno.EAGAIN, errno.ECONNABORTED, errno.EWOULDBLOCK):
                raise
            return
        source = source_of(client_addr)
        if self.per_source[source] >= PER_SOURCE and self._capped(client_addr):
            client_sock.close()  # one source may not take the worker's slots
            return
        self.per_source[source] += 1
        self.nr_conns += 1
        conn = _Conn(self, self.cfg, client_sock, client_addr, listener.getsockname())
        if self.cfg.is_ssl:
            try:
                conn.sock = self._wrap(conn.sock)
            except (OSError, ValueError):
                self._drop(conn)
                return
        self._read(conn)

    def _wrap(self, sock: socket.socket) -> ssl.SSLSocket:
        from gunicorn import sock as gsock

        context: ssl.SSLContext = gsock.ssl_context(self.cfg)
        return context.wrap_socket(
            sock, server_side=True, do_handshake_on_connect=False
        )

    def _read(self, conn: _Conn) -> None:
        """Buffer the connection's next request in the event loop."""
        conn.sock.setblocking(False)
        conn.buffer = bytearray()
        conn.head_seen = conn.continued = False
        conn.deadline = time.monotonic() + HEAD_SECONDS
        self.reading.add(conn)
        self.poller.register(
            conn.sock, selectors.EVENT_READ, partial(self._readable, conn)
        )

    def on_client_socket_readable(self, conn: _Conn, client: Any) -> None:
        # A kept-alive connection's next request is buffered like a first one.
        self.poller.unregister(client)
        self.keepalived_conns.remove(conn)
        self._read(conn)

    def _readable(self, conn: _Conn, _sock: Any) -> None:
        try:
            if not conn.handshaken:
                conn.sock.do_handshake()
                conn.handshaken = True
            data = conn.sock.recv(65536)
            while isinstance(conn.sock, ssl.SSLSocket) and conn.sock.pending():
                data += conn.sock.recv(65536)  # already decrypted, not readable
        except (ssl.SSLWantReadError, ssl.SSLWantWriteError, BlockingIOError):
            return
        except (OSError, ValueError):
            data = b""
        if not data:
            self._unwatch(conn)
            self._drop(conn)
            return
        conn.buffer += data
        total = request_complete(conn.buffer)
        if total is None:
            if len(conn.buffer) > MAX_HEAD_BYTES:
                self._refuse(conn, _TOO_LARGE_REPLY)
            return
        if not conn.head_seen:
            conn.head_seen = True
            body = max(total - conn.buffer.find(b"\r\n\r\n") - 4, 0)
            conn.deadline = time.monotonic() + BODY_SECONDS + body / MIN_BODY_RATE
        if total != -1 and len(conn.buffer) < total:
            if not conn.continued and _EXPECT.search(conn.buffer):
                # The client waits for this before it sends the body; the app
                # sends its own too, which a client ignores (RFC 9110 15.2).
                conn.continued = True
                self._send_quietly(conn, b"HTTP/1.1 100 Continue\r\n\r\n")
            return
        self._unwatch(conn)
        self._dispatch(conn)

    def _dispatch(self, conn: _Conn) -> None:
        """Hand the complete request, already buffered, to a thread."""
        probe = _PROBE.match(conn.buffer) is not None
        if conn.parser is None:
            conn.initialized = True
            conn.parser = http.get_parser(self.cfg, conn.sock, conn.client)
        conn.parser.unreader.unread(bytes(conn.buffer))
        conn.buffer = bytearray()
        conn.data_ready = True
        conn.sock.setblocking(True)
        if not probe:
            self.enqueue_req(conn)
            return
        # gthread's enqueue_req, on the probes' threads.
        done = self.probes.submit(self.handle, conn)
        done.add_done_callback(
            lambda fut: self.method_queue.defer(self.finish_request, conn, fut)
        )

    def _unwatch(self, conn: _Conn) -> None:
        self.reading.discard(conn)
        try:
            self.poller.unregister(conn.sock)
        except (KeyError, ValueError, OSError):
            pass

    def _drop(self, conn: _Conn) -> None:
        self.nr_conns -= 1
        conn.close()

    def _send_quietly(self, conn: _Conn, data: bytes) -> None:
        try:
            conn.sock.send(data)
        except (OSError, ValueError):
            pass

    def _refuse(self, conn: _Conn, reply: bytes) -> None:
        self._unwatch(conn)
        self._send_quietly(conn, reply)
        self._drop(conn)

    def murder_pending(self) -> None:
        """Also close connections whose request did not come in time."""
        super().murder_pending()
        now = time.monotonic()
        for conn in [c for c in self.reading if c.deadline <= now]:
            self._refuse(conn, _TIMEOUT_REPLY if conn.buffer else b"")
