"""SMPP 3.4 transceiver connector, on smpplib's PDUs and socket client.

Why smpplib: of the Python SMPP packages it is the maintained, widely used
one (python-smpplib; releases into 2025, LGPL), with complete SMPP 3.4 PDU
classes and a plain blocking client we can drive from our own threads. The
asyncio ones (aiosmpplib, smpp34) are younger or Rust-backed, and naz and
smpp.twisted are unmaintained. We use its PDU classes (encode and parse),
its connect and bind; not its `make_parts` (it splits GSM escapes), nor its
`listen`/`read_pdu` loop (it raises on error responses, has no window, and
makes two recv calls per PDU where one recv can bring many).

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
Non-receipt deliver_sm become Inbound. A deliver_sm is answered only once
the dispatcher has recorded it (the Sink's `ack`), with ESME_RX_T_APPN (the
SMSC redelivers) when it could not be: a crash before the commit leaves the
receipt with the SMSC, which delivers it again after the next bind.

Flow control: ESME_RTHROTTLED, ESME_RMSGQFUL (and any code a route maps to
THROTTLED) are not failures of the message: the same PDU is resent after a
pause. When the carrier throttles most of what we send, the window halves
and all sending pauses (the pause doubling while that lasts); acceptances
grow the window back by one a window's worth (AIMD, as TCP does). A
multipart message's concatenation reference comes from its message id, so it
is the same on every resend, retry and repeat after a crash, as are its part
numbers; a part once accepted is never sent again (`Submission.done`).
"""

from __future__ import annotations

import heapq
import itertools
import logging
import random
import select
import struct
import threading
import time
from collections.abc import Mapping
from concurrent.futures import Future
from datetime import UTC, datetime
from typing import Any

from smpplib import exceptions as smpp_errors
from smpplib import smpp as smpp_pdu

from soapsms.dispatch.connectors.base import (
    Ack,
    BindGate,
    BindSlot,
    Connector,
    Sink,
    Submission,
    SubmitResult,
)
from soapsms.dispatch.connectors.smpp import codes as smpp_codes
from soapsms.dispatch.connectors.smpp import receipts as smpp_receipts
from soapsms.dispatch.connectors.smpp.config import SmppConfig
from soapsms.dispatch.connectors.smpp.pdus import (
    concat_reference,
    submit_fields,
    validity_period,
)
from soapsms.dispatch.connectors.smpp.session import (
    Client,
    Message,
    Part,
    Pending,
    Sequence,
    Session,
)
from soapsms.domain import status
from soapsms.errors import ConnectorDown, SessionEnded

logger = logging.getLogger(__name__)

ESME_RINVCMDID = 0x03
ESME_RX_T_APPN = 0x64  # "ESME receiver temporary app error": redeliver later
_UNBIND_WAIT = 1.0  # seconds to wait for unbind_resp when stopping
_TICK = 0.25  # longest the reader waits before looking at its timers again
_RECV_BYTES = 65536
_MAX_PDU_BYTES = 65536  # far above any SMPP 3.4 PDU; more means a broken stream
_LINK_ERRORS = (OSError, smpp_errors.ConnectionError, smpp_errors.PDUError)
# Answers at least in a sample that flow control judges: fewer would take a
# steady share of throttling for overload by chance (3 of 4 at 30%: 1 in 12).
_FLOW_SAMPLE = 20


class _FlowControl:
    """How fast a throttling carrier lets us send (AIMD on the window).

    A throttled PDU is resent after a pause of its own. Only when the carrier
    throttles most of a window's worth of answers (we send faster than it
    takes) does the window halve and all sending pause; a carrier that
    throttles a steady few (a share of its capacity elsewhere) costs only
    those resends. Acceptances grow the window back by one a window's worth.
    """

    def __init__(self, config: SmppConfig) -> None:
        self.config = config
        self.limit = float(config.window)  # slots usable now
        self.pause = config.throttle_pause_seconds  # before a resend
        self.until = 0.0  # monotonic: no submit_sm at all before this
        self._accepted = 0  # answers since the last look
        self._throttled = 0

    def throttled(self, now: float) -> float:
        """A throttling answer: when to resend that PDU."""
        self._throttled += 1
        self._look(now)
        return max(self.until, now + self.pause)

    def accepted(self, now: float) -> None:
        self._accepted += 1
        self.limit = min(float(self.config.window), self.limit + 1.0 / self.limit)
        self._look(now)

    def slots(self) -> int:
        return max(1, int(self.limit))

    def _look(self, now: float) -> None:
        """Judge each sample of answers (a window's worth, at least 20)."""
        answers = self._accepted + self._throttled
        if answers < max(self.config.window, _FLOW_SAMPLE):
            return
        if self._throttled * 2 > answers:  # most throttled: too fast for it
            self.limit = max(1.0, self.limit / 2)
            self.until = now + self.pause
            self.pause = min(self.pause * 2, self.config.throttle_pause_max_seconds)
        else:
            self.pause = self.config.throttle_pause_seconds
        self._accepted = self._throttled = 0


class SmppConnector:
    """A carrier route over one SMPP 3.4 transceiver bind."""

    def __init__(self, name: str, config: SmppConfig) -> None:
        self.name = name
        self.config = config
        self._sink: Sink | None = None
        self._cond = threading.Condition()
        self._session: Session | None = None
        self._outstanding = 0  # submit_sm PDUs sent and not yet answered
        self._accepting = True
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._pace_lock = threading.Lock()
        self._next_send = 0.0
        self._flow = _FlowControl(config)
        # (due, order, pending): throttled PDUs waiting to be resent
        self._resends: list[tuple[float, int, Pending]] = []
        self._order = itertools.count()
        # Set by the dispatcher for a route with max_binds: binds hold a slot.
        self.bind_gate: BindGate | None = None
        self._slot_lost = threading.Event()
        self.binds = 0  # successful binds so far, for operators and tests
        self.throttled = 0  # throttling answers so far, for operators and tests

    # --- the Connector interface ------------------------------------------

    def start(self, sink: Sink) -> None:
        self._sink = sink
        self._thread = threading.Thread(
            target=self._run, name=f"smpp-{self.name}", daemon=True
        )
        self._thread.start()
        self._resender = threading.Thread(
            target=self._resend_loop, name=f"smpp-{self.name}-resend", daemon=True
        )
        self._resender.start()

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
        reference = concat_reference(submission.message_id)
        parts = submit_fields(submission, self.config, reference, validity)
        # One message_payload PDU carries every part: nothing was half sent.
        done = submission.done if len(parts) > 1 else {}
        message = Message(len(parts), done)
        try:
            for index, fields in enumerate(parts):
                if index + 1 in done:
                    continue
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
        with self._cond:
            self._cond.notify_all()
        if self._thread is not None:
            self._thread.join(timeout=self.config.response_timeout_seconds + 5)
            self._resender.join(timeout=5)

    # --- sending ------------------------------------------------------------

    def _send_part(self, message: Message, index: int, fields: dict[str, Any]) -> bool:
        """Send one part; False when the message must not send more."""
        try:
            session = self._take_slot()
        except ConnectorDown:
            if not message.sent:
                raise
            message.abort = Part(
                False,
                error_code=status.NETWORK_ERROR,
                retry=True,
                error_text=f"connection lost after {len(message.sent)} parts were sent",
            )
            return False
        if message.abort is not None or any(
            r is not None and not r.ok for r in message.results
        ):
            self._release(1)
            return False
        with self._cond:
            message.sent.append(index)
        now = time.monotonic()
        return self._send_pdu(session, Pending(message, index, fields, now, now))

    def _send_pdu(self, session: Session, entry: Pending) -> bool:
        """Send a part whose slot is taken; False when the link failed."""
        try:
            self._pace()
            pdu = smpp_pdu.make_pdu("submit_sm", client=session.client, **entry.fields)
        except BaseException:
            self._complete(entry, LOST_PART)
            raise
        with self._cond:
            entry.sent_at = time.monotonic()
            session.pending[pdu.sequence] = entry
        try:
            session.send(pdu)
        except _LINK_ERRORS as exc:
            # The reader thread owns the socket: wake it to end the session
            # (and answer this part with the others in flight).
            logger.warning("smpp %s: send failed: %s", self.name, exc)
            session.shut_down()
            return False
        return True

    def _take_slot(self) -> Session:
        with self._cond:
            while True:
                if not self._accepting or self._session is None:
                    raise ConnectorDown(f"smpp route {self.name} is not bound")
                if self._outstanding < self._flow.slots():
                    self._outstanding += 1
                    return self._session
                self._cond.wait()

    def _release(self, count: int) -> None:
        with self._cond:
            self._outstanding -= count
            self._cond.notify_all()

    def _pace(self) -> None:
        now = time.monotonic()
        if self.config.mps <= 0 and self._flow.until <= now:
            return
        with self._pace_lock:
            at = max(now, self._flow.until)
            if self.config.mps > 0:
                at = max(at, self._next_send)
                self._next_send = at + 1.0 / self.config.mps
        if at > now:
            time.sleep(at - now)  # this wait is the rate limit or the pause itself

    def _answer(self, session: Session, sequence: int, part: Part) -> None:
        """A part's answer: resent after a pause when the carrier throttles,
        else recorded (completing its message when all are in)."""
        with self._cond:
            entry = session.pending.pop(sequence, None)
            if entry is None:
                logger.warning(
                    "smpp %s: answer for unknown or expired sequence %d",
                    self.name,
                    sequence,
                )
                return
            now = time.monotonic()
            if part.ok:
                self._flow.accepted(now)
            elif (
                part.error_code == status.THROTTLED
                and now - entry.since < self.config.throttle_give_up_seconds
            ):
                self.throttled += 1
                due = self._flow.throttled(now)
                heapq.heappush(self._resends, (due, next(self._order), entry))
                # Answered, so no longer in the SMSC's window: its slot is free.
                self._outstanding -= 1
                self._cond.notify_all()
                return
        self._complete(entry, part)

    def _complete(self, entry: Pending, part: Part, *, slot: bool = True) -> None:
        """The part's final answer for this attempt; its slot (if it holds
        one) is free again."""
        message = entry.message
        with self._cond:
            message.results[entry.index] = part
            if slot:
                self._outstanding -= 1
            self._cond.notify_all()
            finished = message.claim()
        if finished:
            message.future.set_result(message.result())

    def _resend_loop(self) -> None:
        """Resend throttled PDUs, in turn, when their pause is over; each
        takes a window slot again like any submit_sm."""
        while True:
            with self._cond:
                while True:
                    stopping = self._stop.is_set() or not self._accepting
                    now = time.monotonic()
                    if self._resends and (stopping or self._resends[0][0] <= now):
                        _, _, entry = heapq.heappop(self._resends)
                        break
                    if self._stop.is_set():
                        return
                    timeout = self._resends[0][0] - now if self._resends else _TICK
                    self._cond.wait(min(timeout, _TICK))
            try:
                if stopping:
                    raise ConnectorDown("stopping")
                session = self._take_slot()
            except ConnectorDown:
                self._complete(entry, LOST_PART, slot=False)
                continue
            self._send_pdu(session, entry)

    # --- the connection -----------------------------------------------------

    def _run(self) -> None:
        delay = self.config.reconnect_min_seconds
        while not self._stop.is_set():
            slot: BindSlot | None = None
            if self.bind_gate is not None:  # the route has max_binds
                self._slot_lost.clear()
                slot = self.bind_gate(self._slot_lost.set)
                if slot is None:  # every slot held elsewhere (the gate said so)
                    self._stop.wait(self.config.reconnect_min_seconds)
                    continue
            try:
                session = self._connect()
            except Exception as exc:  # refused, timed out, or a bad bind_resp
                if slot is not None:
                    slot.release()
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
            except (*_LINK_ERRORS, SessionEnded) as exc:
                reason = str(exc) or type(exc).__name__
                if not self._stop.is_set():
                    logger.warning("smpp %s: link lost: %s", self.name, reason)
            except Exception as exc:
                # A PDU smpplib cannot parse, or our bug: log it, and keep the
                # route alive on a new bind rather than let this thread die.
                reason = f"unexpected {type(exc).__name__}"
                logger.exception("smpp %s: session failed", self.name)
            finally:
                self._end_session(session, reason)
                if slot is not None:
                    slot.release()

    def _connect(self) -> Session:
        config = self.config
        client = Client(
            config.host,
            config.port,
            timeout=config.connect_timeout_seconds,
            sequence_generator=Sequence(),
            logger_name=f"{__name__}.wire.{self.name}",
            allow_unknown_opt_params=True,
        )
        session = Session(client)
        try:
            # smpplib keeps the socket of a refused connect: closed below.
            client.connect()
            client.bind_transceiver(
                system_id=config.system_id,
                password=config.password,
                system_type=config.system_type,
            )
        except BaseException:
            session.close()
            raise
        # From here a send that the SMSC does not take in this time is a dead link.
        client.connected_socket().settimeout(config.response_timeout_seconds)
        with self._cond:
            self._session = session
            self.binds += 1
            self._cond.notify_all()
        logger.info("smpp %s: bound to %s:%d", self.name, config.host, config.port)
        return session

    def _end_session(self, session: Session, reason: str) -> None:
        with self._cond:
            if self._session is session:
                self._session = None
            pending = list(session.pending.values())
            session.pending.clear()
            self._outstanding -= len(pending)
            self._cond.notify_all()
            lost = Part(
                False,
                error_code=status.NETWORK_ERROR,
                retry=True,
                error_text=f"no submit_sm_resp: {reason}",
            )
            finished = []
            for entry in pending:
                entry.message.results[entry.index] = lost
                if entry.message.claim():
                    finished.append(entry.message)
        for message in finished:
            message.future.set_result(message.result())
        try:
            session.close()
        except _LINK_ERRORS:
            pass

    def _serve(self, session: Session) -> None:
        """Read and answer PDUs until the link fails or we are stopped.

        One recv takes whatever has arrived, often many PDUs; each is parsed
        by smpplib. (smpplib's read_pdu makes two recv calls per PDU, and a
        blocking read cannot also keep the timers.)
        """
        config = self.config
        sock = session.client.connected_socket()
        buffer = bytearray()
        next_enquire = time.monotonic() + config.enquire_link_seconds
        next_expiry = 0.0
        unbind_sent: float | None = None
        while True:
            now = time.monotonic()
            if self._stop.is_set():
                if unbind_sent is None:
                    session.send(smpp_pdu.make_pdu("unbind", client=session.client))
                    unbind_sent = now
                elif now - unbind_sent > _UNBIND_WAIT:
                    return
            if self._slot_lost.is_set():  # another node may bind now: we may not
                raise SessionEnded("bind slot lost with the store")
            deadline = session.enquire_deadline
            if deadline is not None and now > deadline:
                raise SessionEnded("no enquire_link_resp")
            if now >= next_enquire:
                session.send(smpp_pdu.make_pdu("enquire_link", client=session.client))
                next_enquire = now + config.enquire_link_seconds
                if deadline is None:
                    session.enquire_deadline = now + config.response_timeout_seconds
            if now >= next_expiry:
                self._expire(session, now)
                next_expiry = now + _TICK
            readable, _, _ = select.select([sock], [], [], _TICK)
            if not readable:
                continue
            chunk = sock.recv(_RECV_BYTES)
            if not chunk:
                raise smpp_errors.ConnectionError("the SMSC closed the connection")
            buffer += chunk
            while len(buffer) >= 4:
                length = int.from_bytes(buffer[:4], "big")
                if not 16 <= length <= _MAX_PDU_BYTES:
                    raise SessionEnded(f"PDU length {length} is out of bounds")
                if len(buffer) < length:
                    break
                raw = bytes(buffer[:length])
                del buffer[:length]
                if self._handle(session, raw):
                    return

    def _handle(self, session: Session, raw: bytes) -> bool:
        """Act on one PDU; True when the session is over (our unbind answered)."""
        try:
            pdu = smpp_pdu.parse_pdu(
                raw, client=session.client, allow_unknown_opt_params=True
            )
        except smpp_errors.UnknownCommandError:
            command_id, sequence = struct.unpack(">4xL4xL", raw[:16])
            logger.warning("smpp %s: unknown command 0x%08X", self.name, command_id)
            if not command_id & 0x80000000:  # a request: it wants an answer
                session.respond("generic_nack", sequence, ESME_RINVCMDID)
            return False
        command = pdu.command
        if command == "submit_sm_resp" or command == "generic_nack":
            self._answer(session, pdu.sequence, self._part(pdu))
        elif command == "deliver_sm":
            self._deliver(session, pdu)
        elif command == "enquire_link":
            session.respond("enquire_link_resp", pdu.sequence)
        elif command == "enquire_link_resp":
            session.enquire_deadline = None
        elif command == "unbind":
            session.respond("unbind_resp", pdu.sequence)
            raise SessionEnded("the SMSC unbound")
        elif command == "unbind_resp":
            return True
        elif pdu.is_request():
            session.respond("generic_nack", pdu.sequence, ESME_RINVCMDID)
        return False

    def _expire(self, session: Session, now: float) -> None:
        """A submit_sm unanswered past the response timeout ends the session
        (as Kannel's wait-ack-expire does by default): its answer, should it
        still come, cannot be told from a lost one, and a stalled SMSC must
        not be sent more. Everything in flight is retried after a new bind."""
        timeout = self.config.response_timeout_seconds
        with self._cond:
            late = any(
                now - entry.sent_at > timeout for entry in session.pending.values()
            )
        if late:
            raise SessionEnded(f"none within {timeout:g}s")

    def _part(self, pdu: Any) -> Part:
        if pdu.command == "submit_sm_resp" and pdu.status == 0:
            raw = smpp_receipts.decode_field(pdu.message_id)
            return Part(
                True, smpp_receipts.normalise_id(raw, self.config.submit_id_format)
            )
        code = pdu.status or ESME_RINVCMDID  # a generic_nack without a status
        outcome = smpp_codes.outcome(code, self.config.status_map)
        return Part(
            False,
            error_code=outcome.error_code,
            retry=outcome.retry,
            carrier_error=smpp_codes.carrier_error(code),
            error_text=f"{pdu.command}: {pdu.get_status_desc(code)}",
        )

    def _deliver(self, session: Session, pdu: Any) -> None:
        """Hand a deliver_sm to the Sink; it is answered once recorded."""
        sink = self._sink
        ack = self._ack(session, pdu.sequence)
        try:
            if sink is None:
                raise RuntimeError("no sink")
            if smpp_receipts.is_receipt(pdu):
                receipt = smpp_receipts.receipt_from_pdu(pdu, self.name, self.config)
                if receipt is None:
                    # Redelivery would not give it an id: acknowledge, and say so.
                    logger.warning("smpp %s: receipt names no message id", self.name)
                    ack(True)
                else:
                    sink.receipt(receipt, ack)
            else:
                sink.inbound(smpp_receipts.inbound_from_pdu(pdu, self.name), ack)
        except Exception:  # whatever failed, the SMSC must keep it and retry
            logger.exception("smpp %s: could not take a deliver_sm", self.name)
            ack(False)

    def _ack(self, session: Session, sequence: int) -> Ack:
        """The deliver_sm_resp for one deliver_sm, sent by whoever records it."""

        def ack(recorded: bool) -> None:
            try:
                session.respond(
                    "deliver_sm_resp", sequence, 0 if recorded else ESME_RX_T_APPN
                )
            except _LINK_ERRORS as exc:
                # That bind is gone; the SMSC delivers it again on the next one.
                logger.info("smpp %s: deliver_sm_resp not sent: %s", self.name, exc)

        return ack


LOST_PART = Part(
    False,
    error_code=status.NETWORK_ERROR,
    retry=True,
    error_text="the route stopped before the carrier took this part",
)


def _finished(result: SubmitResult) -> Future[SubmitResult]:
    future: Future[SubmitResult] = Future()
    future.set_result(result)
    return future


def build(name: str, settings: SmppConfig) -> Connector:
    """The connector for a `[connector:NAME] type=smpp` section, from its
    options as the settings read and checked them (soapsms.config.connectors);
    soapsms.dispatch.routing looks this name up."""
    return SmppConnector(name, settings)


def create(name: str, options: Mapping[str, str]) -> Connector:
    """The connector for a section's option strings (tests, tools).

    Raises errors.ConfigError for a missing, unknown or malformed option.
    """
    return build(name, SmppConfig.from_options(options))
