"""A scriptable, fault-injecting SMSC on loopback, speaking SMPP through smpplib's PDUs.

Each test gives it an `on_submit(conn, pdu)` policy: accept, reject with a
command_status, hold the answer, drop the connection, send a receipt before
or after the answer. It records what arrived so tests assert on the wire.
"""

from __future__ import annotations

import socket
import struct
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from smpplib import smpp as smpp_pdu


class _Seq:
    """The bit of an smpplib client that PDU classes ask for: sequence numbers."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.sequence = 0

    def next_sequence(self) -> int:
        with self._lock:
            self.sequence += 1
            return self.sequence


@dataclass
class Submit:
    """One submit_sm as it arrived."""

    at: float
    conn: int
    sequence: int
    pdu: Any

    @property
    def short_message(self) -> bytes:
        return bytes(self.pdu.short_message or b"")


class Conn:
    """One ESME connection, as the policy sees it."""

    def __init__(self, smsc: FaultSmsc, sock: socket.socket, number: int) -> None:
        self.smsc = smsc
        self.sock = sock
        self.number = number
        self.seq = _Seq()
        self.bound = False
        self.closed = False
        self.held: list[Any] = []
        self.unanswered = 0  # submit_sm received, not answered yet
        self._send_lock = threading.Lock()

    # --- what a policy does with a submit_sm ---------------------------------

    def accept(self, pdu: Any, message_id: str | None = None) -> str:
        message_id = message_id or self.smsc.next_id()
        self.respond(pdu, 0, message_id)
        return message_id

    def reject(self, pdu: Any, status: int) -> None:
        self.respond(pdu, status)

    def hold(self, pdu: Any) -> None:
        with self.smsc.lock:
            self.held.append(pdu)

    def release_held(self, status: int = 0) -> list[str]:
        with self.smsc.lock:
            held, self.held = self.held, []
        ids = []
        for pdu in held:
            if status == 0:
                ids.append(self.accept(pdu))
            else:
                self.reject(pdu, status)
        return ids

    def respond(self, pdu: Any, status: int, message_id: str | None = None) -> None:
        resp = smpp_pdu.make_pdu(
            "submit_sm_resp", client=self.seq, status=status, message_id=message_id
        )
        resp.sequence = pdu.sequence
        with self.smsc.lock:
            self.unanswered -= 1
        self.send(resp)

    def drop(self) -> None:
        """Close the TCP connection without a word, as a crashed SMSC would."""
        self.closed = True
        try:
            self.sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self.sock.close()

    # --- what the SMSC sends on its own ---------------------------------------

    def deliver(self, **fields: Any) -> int:
        pdu = smpp_pdu.make_pdu("deliver_sm", client=self.seq, **fields)
        self.send(pdu)
        return int(pdu.sequence)

    def receipt(
        self,
        message_id: str,
        stat: str = "DELIVRD",
        err: str = "000",
        text_id: str | None = None,
        tlv: bool = True,
    ) -> int:
        """A delivery receipt: the standard text, plus the TLVs when `tlv`."""
        text = (
            f"id:{text_id or message_id} sub:001 dlvrd:001 submit date:2501011200"
            f" done date:2501011201 stat:{stat} err:{err} text:hello"
        )
        fields: dict[str, Any] = {
            "source_addr": "17036069996",
            "destination_addr": "SOAPSMS",
            "esm_class": 0x04,
            "short_message": text.encode("ascii"),
        }
        if tlv:
            fields["receipted_message_id"] = message_id
            fields["message_state"] = {"DELIVRD": 2, "UNDELIV": 5, "ENROUTE": 1}.get(
                stat, 7
            )
        return self.deliver(**fields)

    def send(self, pdu: Any) -> None:
        data = pdu.generate()
        with self._send_lock:
            if not self.closed:
                self.sock.sendall(data)


Policy = Callable[[Conn, Any], None]


def accept_all(conn: Conn, pdu: Any) -> None:
    conn.accept(pdu)


class FaultSmsc:
    """The SMSC. Use as a context manager; `port` is set once it listens."""

    def __init__(
        self,
        on_submit: Policy = accept_all,
        bind_status: int = 0,
        id_format: str = "{:08X}",
        answer_enquire_link: bool = True,
        host: str = "127.0.0.1",
    ) -> None:
        self.on_submit = on_submit
        self.bind_status = bind_status
        self.id_format = id_format
        self.answer_enquire_link = answer_enquire_link
        self.lock = threading.Lock()
        self.conns: list[Conn] = []
        self.submits: list[Submit] = []
        self.deliver_resps: dict[int, int] = {}  # deliver_sm sequence → status
        self.enquire_links = 0
        self.bind_attempts: list[float] = []
        self.max_unanswered = 0
        self.others: list[tuple[str, int, int]] = []  # (command, status, sequence)
        self._ids = 0
        self._listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._listener.bind((host, 0))
        self._listener.listen(16)
        self.port: int = self._listener.getsockname()[1]
        self._threads: list[threading.Thread] = []
        self._closing = False

    def __enter__(self) -> FaultSmsc:
        thread = threading.Thread(target=self._accept_loop, daemon=True)
        thread.start()
        self._threads.append(thread)
        return self

    def __exit__(self, *exc: object) -> None:
        self._closing = True
        # close() alone leaves the port listening while the accept thread is
        # blocked in accept(); shutdown() wakes it and stops listening at once.
        try:
            self._listener.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self._listener.close()
        for conn in list(self.conns):
            conn.drop()

    def next_id(self) -> str:
        with self.lock:
            self._ids += 1
            return self.id_format.format(self._ids)

    @property
    def bound(self) -> list[Conn]:
        return [c for c in self.conns if c.bound and not c.closed]

    @property
    def current(self) -> Conn:
        return self.bound[-1]

    # --- the wire ------------------------------------------------------------

    def _accept_loop(self) -> None:
        while not self._closing:
            try:
                sock, _ = self._listener.accept()
            except OSError:
                return
            conn = Conn(self, sock, len(self.conns))
            self.conns.append(conn)
            thread = threading.Thread(target=self._serve, args=(conn,), daemon=True)
            thread.start()

    def _serve(self, conn: Conn) -> None:
        try:
            while True:
                head = _recv_exact(conn.sock, 4)
                (length,) = struct.unpack(">L", head)
                raw = head + _recv_exact(conn.sock, length - 4)
                pdu = smpp_pdu.parse_pdu(
                    raw, client=conn.seq, allow_unknown_opt_params=True
                )
                self._handle(conn, pdu)
        except (OSError, ConnectionError):
            conn.closed = True

    def _handle(self, conn: Conn, pdu: Any) -> None:
        command = pdu.command
        if command == "bind_transceiver":
            self.bind_attempts.append(time.monotonic())
            resp = smpp_pdu.make_pdu(
                "bind_transceiver_resp",
                client=conn.seq,
                status=self.bind_status,
                system_id="faultsmsc",
            )
            resp.sequence = pdu.sequence
            # Bound before the answer leaves: a test that sees the connector
            # up may look for this session at once.
            conn.bound = self.bind_status == 0
            conn.send(resp)
        elif command == "submit_sm":
            with self.lock:
                self.submits.append(
                    Submit(time.monotonic(), conn.number, pdu.sequence, pdu)
                )
                conn.unanswered += 1
                self.max_unanswered = max(self.max_unanswered, conn.unanswered)
            self.on_submit(conn, pdu)
        elif command == "deliver_sm_resp":
            with self.lock:
                self.deliver_resps[pdu.sequence] = pdu.status
        elif command == "enquire_link":
            with self.lock:
                self.enquire_links += 1
            if self.answer_enquire_link:
                self._reply(conn, pdu, "enquire_link_resp")
        elif command == "unbind":
            self._reply(conn, pdu, "unbind_resp")
            conn.drop()
        else:
            with self.lock:
                self.others.append((command, pdu.status, pdu.sequence))

    def _reply(self, conn: Conn, pdu: Any, command: str) -> None:
        resp = smpp_pdu.make_pdu(command, client=conn.seq)
        resp.sequence = pdu.sequence
        conn.send(resp)


def _recv_exact(sock: socket.socket, size: int) -> bytes:
    data = b""
    while len(data) < size:
        chunk = sock.recv(size - len(data))
        if not chunk:
            raise ConnectionError("closed")
        data += chunk
    return data


def wait_until(
    predicate: Callable[[], Any],
    timeout: float = 5.0,
    what: str = "condition",
    interval: float = 0.005,
) -> Any:
    """Poll until `predicate()` is truthy; fail the test at the deadline."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(interval)
