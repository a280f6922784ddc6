"""Helpers for SNPP tests: the ingress on port 0 and a raw-socket client."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from soapsms.snpp_ingress.server import SnppListener
from soapsms.usecases.runtime import Runtime


@contextmanager
def ingress(runtime: Runtime, **kwargs: Any) -> Iterator[SnppListener]:
    """The ingress on a free loopback port, sharing the test's store."""
    with SnppListener(runtime, "127.0.0.1", 0, **kwargs) as listener:
        yield listener


class Client:
    """A line-at-a-time SNPP client over a plain socket: what a paging tool does."""

    def __init__(self, port: int, timeout: float = 30) -> None:
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
        self.file = self.sock.makefile("rb")
        self.greeting = self.line()

    def line(self) -> str:
        """One reply line, without its CRLF ("" once the server has closed)."""
        return self.file.readline().decode("ascii").rstrip("\r\n")

    def send_raw(self, data: bytes) -> None:
        self.sock.sendall(data)

    def cmd(self, line: str) -> str:
        """Send one command line, return the (last) reply line."""
        self.sock.sendall(line.encode() + b"\r\n")
        reply = self.line()
        while reply.startswith("214"):
            reply = self.line()
        return reply

    def lines(self, line: str) -> list[str]:
        """Every reply line to a command that answers several (HELP)."""
        self.sock.sendall(line.encode() + b"\r\n")
        got = [self.line()]
        while got[-1].startswith("214"):
            got.append(self.line())
        return got

    def login(self, account: str = "acme", password: str = "s3cret") -> str:
        return self.cmd(f"LOGI {account} {password}")

    def close(self) -> None:
        self.file.close()
        self.sock.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


def code(reply: str) -> int:
    return int(reply[:3])
