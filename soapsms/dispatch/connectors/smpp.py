"""SMPP 3.4 transceiver connector, on smpplib's PDUs and socket client.

Why smpplib: of the Python SMPP packages it is the maintained, widely used
one (python-smpplib; releases into 2025, LGPL), with complete SMPP 3.4 PDU
classes and a plain blocking client we can drive from our own threads. The
asyncio ones (aiosmpplib, smpp34) are younger or Rust-backed, and naz and
smpp.twisted are unmaintained. We use its PDUs, connect/bind and framing,
not its `make_parts` (it splits GSM escapes) nor its `listen` loop (it raises
on error responses and has no window).

Threads: `start()` runs one thread per route that connects, binds, reads
every PDU and keeps the link alive (enquire_link, reconnect with back-off).
`submit()` sends from the caller's thread: it blocks only while the window
of outstanding submit_sm PDUs is full or the per-second limit asks it to
wait, and returns a Future that the reader thread completes. A multipart
message takes one window slot per part.

Carrier ids are normalised as `SmppConfig` says (text as-is, or hex/decimal
both as canonical decimal). Receipts go to the Sink as they arrive, also
when one comes before its submit_sm_resp: matching them to messages, and
dropping repeats, is the dispatcher's (with the store's unique keys).
Non-receipt deliver_sm become Inbound; deliver_sm_resp is always sent, with
ESME_RX_T_APPN (the SMSC redelivers) when the Sink could not take it.
"""

from __future__ import annotations

import logging
import random
import select
import socket
import threading
import time
from collections.abc import Mapping
from concurrent.futures import Future
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from smpplib import client as smpp_client
from smpplib import consts as smpp_consts
from smpplib import exceptions as smpp_errors
from smpplib import smpp as smpp_pdu

from soapsms.dispatch.connectors import smpp_codes, smpp_receipts
from soapsms.dispatch.connectors.base import (
    Connector,
    ConnectorDown,
    Sink,
    Submission,
    SubmitResult,
)
from soapsms.dispatch.connectors.smpp_config import SmppConfig
from soapsms.dispatch.connectors.smpp_pdus import submit_fields, validity_period
from soapsms.domain import status

logger = logging.getLogger(__name__)

ESME_RINVCMDID = 0x03
ESME_RX_T_APPN = 0x64  # "ESME receiver temporary app error": redeliver later
_UNBIND_WAIT = 1.0  # seconds to wait for unbind_resp when stopping
_TICK = 0.25  # longest the reader waits before looking at its timers again
_LINK_ERRORS = (OSError, smpp_errors.ConnectionError, smpp_errors.PDUError)


class _SessionEnded(Exception):
    """The SMSC unbound, or a keep-alive went unanswered."""


class _Sequence:
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


class _Client(smpp_client.Client):  # type: ignore[misc]
    def _create_socket(self) -> socket.socket:
        sock: socket.socket = super()._create_socket()
        # Small PDUs in a window: Nagle's delay would cap the rate.
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return sock


@dataclass
class _Part:
    ok: bool
    carrier_id: str = ""
    error_code: str | None = None
    retry: bool = False
    carrier_error: str | None = None
    error_text: str | None = None


_LOST = _Part(False, error_code=status.NETWORK_ERROR, retry=True)


class _Message:
    """One Submission's parts on their way; completes its Future once answered."""

    def __init__(self, parts: int) -> None:
        self.future: Future[SubmitResult] = Future()
        self.results: list[_Part | None] = [None] * parts
        self.sent = 0
        self.sealed = False  # the submitting thread sends no more parts
        self.abort: _Part | None = None  # why parts were left unsent
        self.claimed = False  # one thread has taken the job of completing it

    def claim(self) -> bool:
        """Whether the caller (holding the connector's lock) must complete it now."""
        if self.claimed or not self.sealed:
            return False
        if any(r is None for r in self.results[: self.sent]):
            return False
        self.claimed = True
        return True

    def result(self) -> SubmitResult:
        answered = [r for r in self.results[: self.sent] if r is not None]
        failed = next((r for r in answered if not r.ok), self.abort)
        if failed is None and self.sent == len(self.results):
            return SubmitResult(True, tuple(r.carrier_id for r in answered))
        failed = failed or _LOST
        return SubmitResult(
            False,
            retry=failed.retry,
            error_code=failed.error_code,
            carrier_error=failed.carrier_error,
            error_text=failed.error_text,
        )


class _Session:
    """One bound connection and the submit_sm PDUs waiting for an answer on it."""

    def __init__(self, client: _Client) -> None:
        self.client = client
        self.pending: dict[int, tuple[_Message, int, float]] = {}
        self.send_lock = threading.Lock()

    def send(self, pdu: Any) -> None:
        with self.send_lock:
            self.client.send_pdu(pdu)

    def respond(self, command: str, sequence: int, status_code: int = 0) -> None:
        pdu = smpp_pdu.make_pdu(command, client=self.client, status=status_code)
        pdu.sequence = sequence
        self.send(pdu)

    def close(self) -> None:
        # We close on purpose; smpplib would warn about closing while bound.
        self.client.state = smpp_consts.SMPP_CLIENT_STATE_OPEN
        self.client.disconnect()


class SmppConnector:
    """A carrier route over one SMPP 3.4 transceiver bind."""

    def __init__(self, name: str, config: SmppConfig) -> None:
        self.name = name
        self.config = config
        self._sink: Sink | None = None
        self._cond = threading.Condition()
        self._session: _Session | None = None
        self._outstanding = 0  # submit_sm PDUs sent and not yet answered
        self._accepting = True
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._reference = random.randrange(256)  # UDH reference, per message
        self._pace_lock = threading.Lock()
        self._next_send = 0.0
        self.binds = 0  # successful binds so far, for operators and tests

    # --- the Connector interface ------------------------------------------

    def start(self, sink: Sink) -> None:
        self._sink = sink
        self._thread = threading.Thread(
            target=self._run, name=f"smpp-{self.name}", daemon=True
        )
        self._thread.start()

    def is_up(self) -> bool:
        with self._cond:
            return self._session is not None and self._accepting

    def submit(self, submission: Submission) -> Future[SubmitResult]:
        if not self.is_up():
            raise ConnectorDown(f"smpp route {self.name} is not bound")
        now = datetime.now(UTC).replace(tzinfo=None)
        validity = validity_period(submission.expires_at, now, self.config.validity)
        if validity is None:
            return _finished(
                SubmitResult(
                    False,
                    error_code=status.VALIDITY_EXPIRED,
                    error_text="validity ended before submission",
                )
            )
        with self._cond:
            self._reference = (self._reference + 1) % 256
            reference = self._reference
        parts = submit_fields(submission, self.config, reference, validity)
        message = _Message(len(parts))
        try:
            for index, fields in enumerate(parts):
                if not self._send_part(message, index, fields):
                    break
        finally:
            with self._cond:
                message.sealed = True
                finished = message.claim()
            if finished:
                message.future.set_result(message.result())
        return message.future

    def stop(self) -> None:
        """Take no more submissions, wait (up to the response timeout) for the
        answers in flight, unbind and disconnect. What is still unanswered
        then completes as NETWORK_ERROR, to be retried."""
        with self._cond:
            self._accepting = False
            self._cond.notify_all()
            self._cond.wait_for(
                lambda: self._outstanding == 0 or self._session is None,
                timeout=self.config.response_timeout_seconds,
            )
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=self.config.response_timeout_seconds + 5)

    # --- sending ------------------------------------------------------------

    def _send_part(self, message: _Message, index: int, fields: dict[str, Any]) -> bool:
        """Send one part; False when the message must not send more."""
        try:
            session = self._take_slot()
        except ConnectorDown:
            if index == 0:
                raise
            message.abort = _Part(
                False,
                error_code=status.NETWORK_ERROR,
                retry=True,
                error_text=f"connection lost after {index} parts were sent",
            )
            return False
        if message.abort is not None or any(
            r is not None and not r.ok for r in message.results
        ):
            self._release(1)
            return False
        try:
            self._pace()
            pdu = smpp_pdu.make_pdu("submit_sm", client=session.client, **fields)
        except BaseException:
            self._release(1)
            raise
        with self._cond:
            session.pending[pdu.sequence] = (message, index, time.monotonic())
            message.sent += 1
        try:
            session.send(pdu)
        except _LINK_ERRORS as exc:
            logger.warning("smpp %s: send failed: %s", self.name, exc)
            self._end_session(session, "send failed")
            return False
        return True

    def _take_slot(self) -> _Session:
        with self._cond:
            while True:
                if not self._accepting or self._session is None:
                    raise ConnectorDown(f"smpp route {self.name} is not bound")
                if self._outstanding < self.config.window:
                    self._outstanding += 1
                    return self._session
                self._cond.wait()

    def _release(self, count: int) -> None:
        with self._cond:
            self._outstanding -= count
            self._cond.notify_all()

    def _pace(self) -> None:
        if self.config.mps <= 0:
            return
        with self._pace_lock:
            now = time.monotonic()
            at = max(now, self._next_send)
            self._next_send = at + 1.0 / self.config.mps
        if at > now:
            time.sleep(at - now)  # this wait is the per-second limit itself

    def _answer(self, session: _Session, sequence: int, part: _Part) -> None:
        """Record a part's answer; complete its message when all are in."""
        with self._cond:
            entry = session.pending.pop(sequence, None)
            if entry is None:
                logger.warning(
                    "smpp %s: answer for unknown or expired sequence %d",
                    self.name,
                    sequence,
                )
                return
            message, index, _ = entry
            message.results[index] = part
            self._outstanding -= 1
            self._cond.notify_all()
            finished = message.claim()
        if finished:
            message.future.set_result(message.result())

    # --- the connection -----------------------------------------------------

    def _run(self) -> None:
        delay = self.config.reconnect_min_seconds
        while not self._stop.is_set():
            try:
                session = self._connect()
            except _LINK_ERRORS as exc:
                logger.warning(
                    "smpp %s: bind failed (%s); retrying in %.1fs",
                    self.name,
                    exc,
                    delay,
                )
                # Jitter keeps many routes from reconnecting in step.
                self._stop.wait(delay * random.uniform(0.8, 1.2))
                delay = min(delay * 2, self.config.reconnect_max_seconds)
                continue
            delay = self.config.reconnect_min_seconds
            reason = "stopped"
            try:
                self._serve(session)
            except (*_LINK_ERRORS, _SessionEnded) as exc:
                reason = str(exc) or type(exc).__name__
                if not self._stop.is_set():
                    logger.warning("smpp %s: link lost: %s", self.name, reason)
            finally:
                self._end_session(session, reason)

    def _connect(self) -> _Session:
        config = self.config
        client = _Client(
            config.host,
            config.port,
            timeout=config.connect_timeout_seconds,
            sequence_generator=_Sequence(),
            logger_name=f"{__name__}.wire.{self.name}",
            allow_unknown_opt_params=True,
        )
        client.connect()
        session = _Session(client)
        try:
            client.bind_transceiver(
                system_id=config.system_id,
                password=config.password,
                system_type=config.system_type,
            )
        except BaseException:
            session.close()
            raise
        # From here a read waits this long for the rest of a PDU it has begun.
        client._socket.settimeout(config.response_timeout_seconds)
        with self._cond:
            self._session = session
            self.binds += 1
            self._cond.notify_all()
        logger.info("smpp %s: bound to %s:%d", self.name, config.host, config.port)
        return session

    def _end_session(self, session: _Session, reason: str) -> None:
        with self._cond:
            if self._session is session:
                self._session = None
            pending = list(session.pending.values())
            session.pending.clear()
            self._outstanding -= len(pending)
            self._cond.notify_all()
            lost = _Part(
                False,
                error_code=status.NETWORK_ERROR,
                retry=True,
                error_text=f"no submit_sm_resp: {reason}",
            )
            finished = []
            for message, index, _ in pending:
                message.results[index] = lost
                if message.claim():
                    finished.append(message)
        for message in finished:
            message.future.set_result(message.result())
        try:
            session.close()
        except _LINK_ERRORS:
            pass

    def _serve(self, session: _Session) -> None:
        """Read and answer PDUs until the link fails or we are stopped."""
        config = self.config
        sock = session.client._socket
        next_enquire = time.monotonic() + config.enquire_link_seconds
        enquire_deadline: float | None = None
        unbind_sent: float | None = None
        while True:
            now = time.monotonic()
            if self._stop.is_set():
                if unbind_sent is None:
                    session.send(smpp_pdu.make_pdu("unbind", client=session.client))
                    unbind_sent = now
                elif now - unbind_sent > _UNBIND_WAIT:
                    return
            if enquire_deadline is not None and now > enquire_deadline:
                raise _SessionEnded("no enquire_link_resp")
            if now >= next_enquire:
                pdu = smpp_pdu.make_pdu("enquire_link", client=session.client)
                session.send(pdu)
                next_enquire = now + config.enquire_link_seconds
                enquire_deadline = (
                    enquire_deadline or now + config.response_timeout_seconds
                )
            self._expire(session, now)
            readable, _, _ = select.select([sock], [], [], _TICK)
            if not readable:
                continue
            try:
                pdu = session.client.read_pdu()
            except smpp_errors.UnknownCommandError as exc:
                logger.warning("smpp %s: ignored PDU: %s", self.name, exc)
                continue
            command = pdu.command
            if command == "submit_sm_resp" or command == "generic_nack":
                self._answer(session, pdu.sequence, self._part(pdu))
            elif command == "deliver_sm":
                self._deliver(session, pdu)
            elif command == "enquire_link":
                session.respond("enquire_link_resp", pdu.sequence)
            elif command == "enquire_link_resp":
                enquire_deadline = None
            elif command == "unbind":
                session.respond("unbind_resp", pdu.sequence)
                raise _SessionEnded("the SMSC unbound")
            elif command == "unbind_resp":
                return
            elif pdu.is_request():
                session.respond("generic_nack", pdu.sequence, ESME_RINVCMDID)

    def _expire(self, session: _Session, now: float) -> None:
        timeout = self.config.response_timeout_seconds
        with self._cond:
            late = [
                seq
                for seq, (_, _, sent_at) in session.pending.items()
                if now - sent_at > timeout
            ]
        for seq in late:
            self._answer(
                session,
                seq,
                _Part(
                    False,
                    error_code=status.NETWORK_ERROR,
                    retry=True,
                    error_text=f"no submit_sm_resp within {timeout:g}s",
                ),
            )

    def _part(self, pdu: Any) -> _Part:
        if pdu.command == "submit_sm_resp" and pdu.status == 0:
            raw = smpp_receipts.decode_field(pdu.message_id)
            return _Part(
                True, smpp_receipts.normalise_id(raw, self.config.submit_id_format)
            )
        code = pdu.status or ESME_RINVCMDID  # a generic_nack without a status
        outcome = smpp_codes.outcome(code, self.config.status_map)
        return _Part(
            False,
            error_code=outcome.error_code,
            retry=outcome.retry,
            carrier_error=smpp_codes.carrier_error(code),
            error_text=f"{pdu.command}: {pdu.get_status_desc(code)}",
        )

    def _deliver(self, session: _Session, pdu: Any) -> None:
        sink = self._sink
        status_code = 0
        try:
            if sink is None:
                raise RuntimeError("no sink")
            if smpp_receipts.is_receipt(pdu):
                receipt = smpp_receipts.receipt_from_pdu(
                    pdu,
                    self.name,
                    self.config.submit_id_format,
                    self.config.receipt_id_format,
                    self.config.receipt_tz,
                )
                if receipt is None:
                    # Redelivery would not give it an id: acknowledge, and say so.
                    logger.warning("smpp %s: receipt names no message id", self.name)
                else:
                    sink.receipt(receipt)
            else:
                sink.inbound(smpp_receipts.inbound_from_pdu(pdu, self.name))
        except Exception:  # whatever failed, the SMSC must keep it and retry
            logger.exception("smpp %s: could not take a deliver_sm", self.name)
            status_code = ESME_RX_T_APPN
        session.respond("deliver_sm_resp", pdu.sequence, status_code)


def _finished(result: SubmitResult) -> Future[SubmitResult]:
    future: Future[SubmitResult] = Future()
    future.set_result(result)
    return future


def create(name: str, options: Mapping[str, str]) -> Connector:
    """The connector for a `[connector:NAME] type=smpp` section's options.

    Raises errors.ConfigError for a missing, unknown or malformed option.
    """
    return SmppConnector(name, SmppConfig.from_options(options))


build = create  # the name soapsms.dispatch.routing looks up
