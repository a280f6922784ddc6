"""A loopback TCP proxy that fails on command: pass, refuse, or go silent.

Put between a client and a real server (PostgreSQL, an SMSC) to test what the
client does when the network misbehaves, without touching the server:

    pass       forward both ways (the default)
    refuse     new connections are closed at once, open ones are cut
    blackhole  connections stay open (our kernel still ACKs) but nothing is
               forwarded either way: a partition, or a server that hangs
"""

from __future__ import annotations

import selectors
import socket
import threading

PASS, REFUSE, BLACKHOLE = "pass", "refuse", "blackhole"


class TcpFaultProxy:
    """`TcpFaultProxy(host, port)` listens on 127.0.0.1:`.port`; set `.mode`."""

    def __init__(self, host: str, port: int) -> None:
        self.target = (host, port)
        self._mode = PASS
        self._lock = threading.Lock()
        self._pairs: list[tuple[socket.socket, socket.socket]] = []
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port: int = self._listener.getsockname()[1]
        self._closed = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    @property
    def mode(self) -> str:
        return self._mode

    @mode.setter
    def mode(self, mode: str) -> None:
        if mode not in (PASS, REFUSE, BLACKHOLE):
            raise ValueError(mode)
        with self._lock:
            self._mode = mode
            if mode == REFUSE:
                for pair in self._pairs:
                    for sock in pair:
                        _close(sock)
                self._pairs.clear()

    def url_for(self, url: str) -> str:
        """`url` (a database URL naming the target) pointed at this proxy."""
        host, port = self.target
        return url.replace(f"{host}:{port}", f"127.0.0.1:{self.port}", 1)

    def close(self) -> None:
        self._closed.set()
        _close(self._listener)
        self._thread.join(timeout=5)
        with self._lock:
            for pair in self._pairs:
                for sock in pair:
                    _close(sock)
            self._pairs.clear()

    def __enter__(self) -> TcpFaultProxy:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    def _serve(self) -> None:
        selector = selectors.DefaultSelector()
        selector.register(self._listener, selectors.EVENT_READ, None)
        peers: dict[socket.socket, socket.socket] = {}
        while not self._closed.is_set():
            try:
                events = selector.select(timeout=0.05)
            except (OSError, ValueError):
                return
            with self._lock:
                mode = self._mode
                live = {s for pair in self._pairs for s in pair}
            for sock in list(peers):
                if sock not in live:  # cut by REFUSE
                    selector.unregister(sock)
                    del peers[sock]
            for key, _ in events:
                sock = key.fileobj
                assert isinstance(sock, socket.socket)
                if sock is self._listener:
                    try:
                        client, _addr = self._listener.accept()
                    except OSError:
                        return
                    if mode == REFUSE:
                        _close(client)
                        continue
                    try:
                        server = socket.create_connection(self.target, timeout=5)
                    except OSError:
                        _close(client)
                        continue
                    with self._lock:
                        self._pairs.append((client, server))
                    peers[client], peers[server] = server, client
                    selector.register(client, selectors.EVENT_READ, None)
                    selector.register(server, selectors.EVENT_READ, None)
                    continue
                if sock not in peers or mode == BLACKHOLE:
                    continue
                try:
                    data = sock.recv(65536)
                    if data:
                        peers[sock].sendall(data)
                        continue
                except OSError:
                    pass
                self._drop(selector, peers, sock)
            if mode == BLACKHOLE:
                self._closed.wait(0.05)  # readable sockets stay unread
        selector.close()

    def _drop(
        self,
        selector: selectors.BaseSelector,
        peers: dict[socket.socket, socket.socket],
        sock: socket.socket,
    ) -> None:
        other = peers.pop(sock)
        peers.pop(other, None)
        for each in (sock, other):
            try:
                selector.unregister(each)
            except (KeyError, ValueError):
                pass
            _close(each)
        with self._lock:
            self._pairs = [p for p in self._pairs if sock not in p]


def _close(sock: socket.socket) -> None:
    try:
        sock.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass
    sock.close()
