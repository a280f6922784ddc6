"""The aiosmtpd handler: RCPT only for our addresses; DATA → use cases → one reply."""

from __future__ import annotations

import asyncio
import functools
import logging
import time
from dataclasses import dataclass

from aiosmtpd.smtp import SMTP, Envelope, Session

from soapsms import errors, metrics
from soapsms.limits import SlidingWindow
from soapsms.smtp_ingress import replies
from soapsms.smtp_ingress.notify import Answer, Notifier
from soapsms.smtp_ingress.parse import Mail, parse_request, read_mail
from soapsms.usecases import auth, send
from soapsms.usecases.requests import Credentials, SendRequest
from soapsms.usecases.runtime import Runtime

logger = logging.getLogger(__name__)


def normalize_address(address: str) -> str:
    """Addresses compare case-insensitively, the local part too: RFC 5321 lets
    the receiving host decide, and address books and help-desk tools
    capitalise freely (Email@Example.com)."""
    address = address.strip()
    if address.startswith("<") and address.endswith(">"):
        address = address[1:-1]
    return address.lower()


@dataclass(frozen=True)
class Delivery:
    """One mail's fate, for the reply, the log line and the confirmation."""

    answer: Answer
    outcome: str
    account: str = "-"
    mail: Mail | None = None
    # Whether the mail's login passed: only then may a reply go to its sender
    # (anyone can forge an envelope sender; no backscatter to strangers).
    authenticated: bool = False


class IngressHandler:
    """Shared by every connection; the blocking use cases run on the loop's
    executor so that one slow store call never stalls the other sessions."""

    def __init__(self, runtime: Runtime, notifier: Notifier | None = None) -> None:
        settings = runtime.settings
        self.runtime = runtime
        self.notifier = notifier
        self.addresses = frozenset(normalize_address(a) for a in settings.smtp_address)
        self.per_connection = SlidingWindow(settings.smtp_rate_per_connection)
        self.per_account = SlidingWindow(settings.smtp_rate_per_account)

    async def handle_RCPT(  # noqa: N802 - aiosmtpd's hook name
        self,
        server: SMTP,
        session: Session,
        envelope: Envelope,
        address: str,
        rcpt_options: list[str],
    ) -> str:
        if normalize_address(address) not in self.addresses:
            # Refused here, before any data: never an open relay.
            logger.info(
                "smtp rcpt refused source=%s rcpt=%s",
                source_of(session),
                replies.clean(address),
            )
            return (
                f"550 5.7.1 <{replies.clean(address)}>: relaying denied; this "
                "gateway takes mail only for its own address"
            )
        envelope.rcpt_tos.append(address)
        envelope.rcpt_options.extend(rcpt_options)
        return "250 2.1.5 OK"

    async def handle_DATA(  # noqa: N802 - aiosmtpd's hook name
        self, server: SMTP, session: Session, envelope: Envelope
    ) -> str:
        started = time.perf_counter()
        source = source_of(session)
        loop = asyncio.get_running_loop()
        # Keyed by the SMTP protocol object: one per TCP connection, kept
        # across STARTTLS (the session is not).
        if not self.per_connection.allow(server):
            delivery = Delivery(
                Answer(replies.TOO_MANY_ON_CONNECTION), "ConnectionRateLimited"
            )
        else:
            delivery = await loop.run_in_executor(
                None, self.deliver, envelope.original_content or b"", source
            )
        result = delivery.answer.result
        logger.info(
            "smtp mail account=%s source=%s tls=%s outcome=%s batch=%s "
            "reference=%s reply=%r duration_ms=%.1f",
            replies.clean(delivery.account),
            source,
            "yes" if session.ssl is not None else "no",
            delivery.outcome,
            result.batch_id if result is not None else "-",
            replies.clean(_reference(delivery.mail) or "-"),
            delivery.answer.reply,
            (time.perf_counter() - started) * 1000,
        )
        metrics.get().smtp_mails.labels(delivery.outcome).inc()
        self._confirm(loop, delivery, envelope.mail_from or "")
        return delivery.answer.reply

    def deliver(self, content: bytes, source: str) -> Delivery:
        """Parse, authenticate, check the listener's account limit, submit."""
        mail: Mail | None = None
        account = "-"
        authenticated = False
        try:
            mail = read_mail(content)
            request = parse_request(mail)
            account = request.account_id
            credentials = Credentials(request.account_id, request.password, "smtp")
            view = auth.authenticate(self.runtime, [credentials], source)
            authenticated = True
            if not self.per_account.allow(view.account_id):
                limit = self.per_account.limit
                raise errors.RateLimited(
                    f"more than {limit} mails a minute for this account; "
                    "try again later",
                    limit=limit,
                )
            result = send.submit_message(
                self.runtime,
                view,
                SendRequest(
                    text=request.text,
                    recipients=request.numbers,
                    client_reference=request.client_reference,
                ),
                # The account changed since it was read above: read it again.
                login_again=functools.partial(
                    auth.authenticate, self.runtime, [credentials], source
                ),
            )
        except errors.SoapsmsError as exc:
            return Delivery(
                Answer(replies.for_error(exc)),
                type(exc).__name__,
                account,
                mail,
                authenticated,
            )
        except Exception:
            # A bug must not lose an alert: 4xx keeps it queued at the sender.
            logger.exception("smtp mail from %s failed unexpectedly", source)
            return Delivery(Answer(replies.INTERNAL), "internal", account, mail)
        outcome = "replayed" if result.replayed else "accepted"
        return Delivery(
            Answer(replies.accepted(result), result), outcome, account, mail, True
        )

    def _confirm(
        self, loop: asyncio.AbstractEventLoop, delivery: Delivery, return_path: str
    ) -> None:
        notifier = self.notifier
        if notifier is None or not delivery.authenticated:
            return
        mail = delivery.mail
        auto = mail.auto_submitted if mail is not None else False
        if not notifier.wanted(delivery.answer, return_path, auto):
            return
        try:
            message = notifier.compose(
                delivery.answer, return_path, mail.message_id if mail else None
            )
        except Exception as exc:  # noqa: BLE001 - the mail's answer stands
            # A Message-ID or sender that cannot be a header of the reply.
            logger.warning("smtp reply to %r not composed: %s", return_path, exc)
            return
        # Not awaited: the sender's server gets its reply without waiting for
        # our relay.
        loop.run_in_executor(None, notifier.send, message)


def source_of(session: Session) -> str:
    """The TCP peer's address: what an account's allowed networks are held to."""
    peer = session.peer
    if isinstance(peer, tuple) and peer:
        return str(peer[0])
    return str(peer or "")


def _reference(mail: Mail | None) -> str | None:
    return mail.client_reference if mail is not None else None
