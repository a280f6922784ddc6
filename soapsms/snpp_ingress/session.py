"""One SNPP connection: reads commands, keeps the transaction, calls the use cases.

A transaction is the PAGEs, the message (MESS or DATA) and its options until
SEND or RESE; several PAGEs make one batch with several recipients. LOGI is
kept for the connection and needed before SEND. The blocking use cases run
on the loop's executor, so one slow store call never stalls other sessions.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import TypeVar

from soapsms import errors, metrics
from soapsms.domain import status
from soapsms.limits import SlidingWindow
from soapsms.snpp_ingress import replies
from soapsms.snpp_ingress.holdtime import parse_hold
from soapsms.snpp_ingress.lines import MAX_LINE_BYTES, LineReader
from soapsms.usecases import auth, query, send
from soapsms.usecases.requests import Credentials, Selector, SendRequest
from soapsms.usecases.results import AccountView, SendResult
from soapsms.usecases.runtime import Runtime

logger = logging.getLogger(__name__)

T = TypeVar("T")

# A DATA message in all; longer ones are read to their end and refused.
MAX_DATA_BYTES = 16384
# PAGEs in one transaction; the account's own limit is checked at SEND.
MAX_PAGERS = 1000
# Refused commands before the gateway hangs up (RFC 1861: 421 Too Many Errors).
MAX_ERRORS = 20

# Level 3 commands without meaning for SMS, and SITE: refused as unknown.
_NOT_FOR_SMS = frozenset(
    {"2WAY", "PING", "EXPT", "NOQU", "ACKR", "RTYP", "MCRE", "KTAG", "SITE"}
)


@dataclass
class _Transaction:
    pagers: list[str] = field(default_factory=list)
    message: str | None = None
    subject: str | None = None
    hold: datetime | None = None


class Session:
    """The state of one connection and its command loop."""

    def __init__(
        self,
        runtime: Runtime,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        idle_timeout: float,
        per_account: SlidingWindow,
    ) -> None:
        self.runtime = runtime
        self.lines = LineReader(reader, idle_timeout)
        self.writer = writer
        # SENDs a minute: this connection's own window, and the listener's
        # shared one per account.
        self.per_connection = SlidingWindow(runtime.settings.snpp_rate_per_connection)
        self.per_account = per_account
        peer = writer.get_extra_info("peername")
        self.source = str(peer[0]) if isinstance(peer, tuple) and peer else "-"
        self.transaction = _Transaction()
        self.credentials: Credentials | None = None
        self.account: AccountView | None = None
        self.errors = 0
        # MSTA: tag → MessageId of what this session sent, and the one pass code.
        self.tags: dict[int, str] = {}
        self.pass_code = f"{secrets.randbelow(10**6):06d}"

    async def serve(self) -> None:
        await self._say(replies.GREETING)
        while True:
            try:
                line = await self.lines.read()
                if line is None:
                    return
                if not line.strip():
                    continue
                reply = await self._command(line)
            except TimeoutError:
                await self._say(replies.TIMEOUT)
                return
            except errors.LineTooLong:
                reply = replies.LINE_TOO_LONG + f" (at most {MAX_LINE_BYTES} bytes)"
            if replies.is_error(reply):
                self.errors += 1
                if self.errors >= MAX_ERRORS:
                    await self._say(reply)
                    reply = replies.TOO_MANY_ERRORS
            await self._say(reply)
            if replies.closes(reply):
                return

    # --- the wire ----------------------------------------------------------

    async def _say(self, *lines: str) -> None:
        self.writer.write("".join(f"{line}\r\n" for line in lines).encode("ascii"))
        await self.writer.drain()

    async def _call(self, function: Callable[..., T], *args: object) -> T:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(None, function, *args)

    # --- commands ------------------------------------------------------------

    async def _command(self, line: str) -> str:
        word, _, argument = line.strip().partition(" ")
        # RFC 1861: only the first four characters of a command count.
        verb = word[:4].upper()
        argument = argument.strip()
        handler = _HANDLERS.get(verb)
        if handler is None:
            if verb not in _NOT_FOR_SMS:
                # Not the word itself: a mistyped line may hold a password.
                logger.info("snpp unknown command from %s", self.source)
            return replies.NOT_IMPLEMENTED
        try:
            return await handler(self, argument)
        except errors.SoapsmsError as exc:
            return replies.for_error(exc)
        except (TimeoutError, ConnectionError):
            raise  # the session ends: idle, or the client went away
        except Exception:
            logger.exception("snpp %s from %s failed unexpectedly", verb, self.source)
            return replies.INTERNAL

    async def _page(self, argument: str) -> str:
        pager = argument.split(" ", 1)[0]  # a PIN after it means nothing for SMS
        if not pager:
            return replies.INVALID_PAGER + ": give a phone number"
        if len(self.transaction.pagers) >= MAX_PAGERS:
            return replies.MAXIMUM_ENTRIES + f": at most {MAX_PAGERS} PAGEs per SEND"
        self.transaction.pagers.append(pager)
        return "250 Pager ID Accepted"

    async def _mess(self, argument: str) -> str:
        if self.transaction.message is not None:
            return replies.ALREADY_ENTERED
        if not argument:
            return replies.INVALID_MESSAGE + ": the message is empty"
        self.transaction.message = argument
        return "250 Message OK"

    async def _data(self, argument: str) -> str:
        if self.transaction.message is not None:
            return replies.ALREADY_ENTERED
        await self._say("354 Begin Input; End with <CRLF>'.'<CRLF>")
        lines: list[str] = []
        size = 0
        while True:
            try:
                line = await self.lines.read()
            except errors.LineTooLong:
                size = MAX_DATA_BYTES + 1
                continue
            if line is None:
                raise ConnectionResetError("connection closed during DATA")
            if line == ".":
                break
            size += len(line) + 1
            if size <= MAX_DATA_BYTES:
                # A leading dot is doubled by the client (RFC 1861 4.5.1).
                lines.append(line[1:] if line.startswith("..") else line)
        if size > MAX_DATA_BYTES:
            return replies.INVALID_MESSAGE + f": longer than {MAX_DATA_BYTES} bytes"
        text = "\n".join(lines).strip("\n")
        if not text.strip():
            return replies.INVALID_MESSAGE + ": the message is empty"
        self.transaction.message = text
        return "250 Message OK"

    async def _subj(self, argument: str) -> str:
        if not argument:
            return replies.INVALID_MESSAGE + ": the subject is empty"
        self.transaction.subject = argument
        return "250 Message Subject OK"

    async def _hold(self, argument: str) -> str:
        try:
            self.transaction.hold = parse_hold(argument)
        except ValueError:
            return (
                "550 Error, Invalid Delivery Date/Time: give YYMMDDHHMMSS, "
                "optionally followed by the GMT offset +/-HHMM"
            )
        return "250 Delayed Messaging Selected"

    async def _rese(self, argument: str) -> str:
        self.transaction = _Transaction()
        return "250 RESET OK"

    async def _quit(self, argument: str) -> str:
        return replies.GOODBYE

    async def _help(self, argument: str) -> str:
        await self._say(*replies.HELP[:-1])
        return replies.HELP[-1]

    async def _logi(self, argument: str) -> str:
        account_id, _, password = argument.partition(" ")
        self.credentials = self.account = None
        if not account_id or not password.strip():
            # Nothing was checked, so no failed login is counted: HylaFAX's
            # sendpage tries LOGI <user> alone first, then asks for a password.
            return replies.PASSWORD_REQUIRED
        credentials = Credentials(account_id, password.strip(), "snpp")
        self.account = await self._call(
            auth.authenticate, self.runtime, [credentials], self.source
        )
        self.credentials = credentials
        return "250 Login Accepted"

    async def _leve(self, argument: str) -> str:
        # Service levels (0-11) choose a paging network's priority; SMS has one.
        if not argument.isdigit() or int(argument) > 11:
            return "550 Error, Invalid Service Level"
        return "250 OK, Alternate Service Level Accepted"

    async def _aler(self, argument: str) -> str:
        if argument not in ("0", "1"):
            return "550 Error, Invalid Alert Parameter"
        return "250 OK, Alert Override Accepted"

    async def _cove(self, argument: str) -> str:
        if not argument:
            return "550 Error, Invalid Alternate Region"
        return "250 OK, Alternate Coverage Selected"

    async def _call_id(self, argument: str) -> str:
        # The sender of an SMS is the account's, not a caller's number.
        if not argument:
            return "550 Error, Invalid Caller ID"
        return "250 Caller ID Accepted"

    async def _send(self, argument: str) -> str:
        transaction = self.transaction
        if not transaction.pagers or transaction.message is None:
            return replies.INCOMPLETE
        if self.account is None:
            return replies.LOGIN_REQUIRED
        started = time.perf_counter()
        text = transaction.message
        if transaction.subject:
            text = f"{transaction.subject}: {text}"
        request = SendRequest(
            text=text,
            recipients=tuple(transaction.pagers),
            scheduled_for=transaction.hold,
            all_or_nothing=True,
        )
        outcome, batch = "accepted", "-"
        try:
            self._check_rates(self.account.account_id)
            result = await self._submit(request)
        except errors.SoapsmsError as exc:
            outcome = type(exc).__name__
            reply = replies.for_error(exc)
        except Exception:
            logger.exception("snpp SEND from %s failed unexpectedly", self.source)
            outcome, reply = "internal", replies.INTERNAL
        else:
            batch = result.batch_id
            first = len(self.tags) + 1
            for offset, receipt in enumerate(result.messages):
                self.tags[first + offset] = receipt.message_id
            reply = replies.sent(batch, len(result.messages), first, self.pass_code)
            self.transaction = _Transaction()
        logger.info(
            "snpp send account=%s source=%s outcome=%s batch=%s reply=%r "
            "duration_ms=%.1f",
            self.account.account_id if self.account else "-",
            self.source,
            outcome,
            batch,
            reply,
            (time.perf_counter() - started) * 1000,
        )
        metrics.get().snpp_sends.labels(outcome).inc()
        return reply

    def _check_rates(self, account_id: str) -> None:
        for window, what in (
            (self.per_connection, "on this connection"),
            (self.per_account, "for this account"),
        ):
            if not window.allow(account_id):
                raise errors.RateLimited(
                    f"more than {window.limit} SENDs a minute {what}; try again later",
                    limit=window.limit,
                )

    async def _submit(self, request: SendRequest) -> SendResult:
        assert self.account is not None and self.credentials is not None
        credentials = self.credentials

        def login_again() -> AccountView:
            # The account changed since LOGI: the login is checked again.
            self.account = None
            self.account = auth.authenticate(self.runtime, [credentials], self.source)
            return self.account

        return await self._call(
            send.submit_message, self.runtime, self.account, request, login_again
        )

    async def _msta(self, argument: str) -> str:
        parts = argument.split()
        if len(parts) != 2 or not parts[0].isdigit():
            return replies.UNKNOWN_TAG
        tag = int(parts[0])
        message_id = self.tags.get(tag)
        if (
            message_id is None
            or self.account is None
            or not secrets.compare_digest(parts[1], self.pass_code)
        ):
            return replies.UNKNOWN_TAG
        found = await self._call(
            query.get_status,
            self.runtime,
            self.account,
            Selector(message_ids=(message_id,)),
        )
        if not found or found[0].status == status.UNKNOWN:
            return replies.UNKNOWN_TAG
        return replies.message_status(tag, found[0])


_HANDLERS = {
    "PAGE": Session._page,
    "MESS": Session._mess,
    "DATA": Session._data,
    "SUBJ": Session._subj,
    "HOLD": Session._hold,
    "RESE": Session._rese,
    "SEND": Session._send,
    "QUIT": Session._quit,
    "HELP": Session._help,
    "LOGI": Session._logi,
    "LEVE": Session._leve,
    "ALER": Session._aler,
    "COVE": Session._cove,
    "CALL": Session._call_id,
    "MSTA": Session._msta,
}
