"""The state of an SMPP bind: sequence numbers, messages in flight, the socket."""

from __future__ import annotations

import socket
import threading
from collections.abc import Mapping
from concurrent.futures import Future
from dataclasses import dataclass
from typing import Any

from smpplib import client as smpp_client
from smpplib import consts as smpp_consts
from smpplib import exceptions as smpp_errors
from smpplib import smpp as smpp_pdu

from soapsms.dispatch.connectors.base import SubmitResult
from soapsms.domain import status


class Sequence:
    """smpplib's sequence generator, made safe for several sending threads."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._sequence = 0

    @property
    def sequence(self) -> int:
        return self._sequence

    def next_sequence(self) -> int:
        with self._lock:
            self._sequence = self._sequence % 0x7FFFFFFF + 1
            return self._sequence


class Client(smpp_client.Client):  # type: ignore[misc]
    """smpplib's client, with the socket option a window of small PDUs needs.

    The one place that uses smpplib beyond its public API: its socket
    (`_create_socket`, `_socket`) and closing a bound client on purpose.
    tests/test_smpp_library.py fails when smpplib changes either."""

    def _create_socket(self) -> socket.socket:
        sock: socket.socket = super()._create_socket()
        # Small PDUs in a window: Nagle's delay would cap the rate.
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return sock

    @property
    def sock(self) -> socket.socket | None:
        """The connection's socket; None when not connected."""
        sock: socket.socket | None = self._socket
        return sock

    def connected_socket(self) -> socket.socket:
        """The connection's socket, or smpplib's ConnectionError."""
        sock = self.sock
        if sock is None:
            raise smpp_errors.ConnectionError("not connected")
        return sock

    def close_quietly(self) -> None:
        """Disconnect; on purpose, so without smpplib's warning about closing
        while bound."""
        self.state = smpp_consts.SMPP_CLIENT_STATE_OPEN
        self.disconnect()


@dataclass
class Part:
    ok: bool
    carrier_id: str = ""
    error_code: str | None = None
    retry: bool = False
    carrier_error: str | None = None
    error_text: str | None = None


LOST = Part(False, error_code=status.NETWORK_ERROR, retry=True)


class Message:
    """One Submission's parts on their way; completes its Future once answered.

    Parts an earlier attempt got accepted (`done`, numbered from 1) count as
    answered from the start and are not sent again."""

    def __init__(self, parts: int, done: Mapping[int, str] | None = None) -> None:
        self.future: Future[SubmitResult] = Future()
        self.done = dict(done or {})
        self.results: list[Part | None] = [
            Part(True, self.done[n]) if n in self.done else None
            for n in range(1, parts + 1)
        ]
        self.sent: list[int] = []  # indexes of the parts sent by this attempt
        self.sealed = False  # the submitting thread sends no more parts
        self.abort: Part | None = None  # why parts were left unsent
        self.claimed = False  # one thread has taken the job of completing it

    def claim(self) -> bool:
        """Whether the caller (holding the connector's lock) must complete it now."""
        if self.claimed or not self.sealed:
            return False
        if any(self.results[i] is None for i in self.sent):
            return False
        self.claimed = True
        return True

    def result(self) -> SubmitResult:
        answered = [(i, self.results[i]) for i in self.sent]
        accepted = tuple(
            (i + 1, r.carrier_id) for i, r in answered if r is not None and r.ok
        )
        if all(r is not None and r.ok for r in self.results):
            return SubmitResult(
                True,
                tuple(r.carrier_id for r in self.results if r is not None),
                parts=accepted,
            )
        failed = next((r for _, r in answered if r is not None and not r.ok), None)
        failed = failed or self.abort or LOST
        return SubmitResult(
            False,
            retry=failed.retry,
            error_code=failed.error_code,
            carrier_error=failed.carrier_error,
            error_text=failed.error_text,
            parts=accepted,
        )


@dataclass
class Pending:
    """A submit_sm on the wire, kept whole so that flow control can resend it."""

    message: Message
    index: int
    fields: dict[str, Any]
    sent_at: float  # monotonic, for the response timeout
    since: float  # monotonic time of its first sending, for flow control's bound


class Session:
    """One bound connection and the submit_sm PDUs waiting for an answer on it."""

    def __init__(self, client: Client) -> None:
        self.client = client
        self.pending: dict[int, Pending] = {}
        self.enquire_deadline: float | None = None  # an enquire_link awaits its resp
        self.send_lock = threading.Lock()

    def send(self, pdu: Any) -> None:
        # Encoded outside the lock; written whole by one thread at a time.
        data = pdu.generate()
        with self.send_lock:
            self.client.connected_socket().sendall(data)

    def respond(self, command: str, sequence: int, status_code: int = 0) -> None:
        pdu = smpp_pdu.make_pdu(command, client=self.client, status=status_code)
        pdu.sequence = sequence
        self.send(pdu)

    def shut_down(self) -> None:
        """Make the reader's next recv see the end of the stream."""
        sock = self.client.sock
        if sock is not None:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass  # already down

    def close(self) -> None:
        self.client.close_quietly()
