"""The optional confirmation or error mail back to a mail's sender, via a relay."""

from __future__ import annotations

import logging
import smtplib
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import formatdate, make_msgid

from soapsms.smtp_ingress.replies import is_temporary
from soapsms.usecases.results import SendResult

logger = logging.getLogger(__name__)

OFF, ERRORS, ALL = "off", "errors", "all"


@dataclass(frozen=True)
class Answer:
    """What became of one mail, as the confirmation tells it."""

    reply: str  # the SMTP reply line the sending server got
    result: SendResult | None = None


class Notifier:
    """Sends the confirmations; `mode` is the smtp_replies setting."""

    def __init__(
        self,
        mode: str,
        relay: tuple[str, int],
        sender: str,
        hostname: str,
        timeout: float = 30.0,
    ) -> None:
        self.mode = mode
        self.relay = relay
        self.sender = sender
        self.hostname = hostname
        self.timeout = timeout

    def wanted(self, answer: Answer, return_path: str, auto_submitted: bool) -> bool:
        """Only for final answers (a 4xx mail comes again), never to the null
        sender, and never to automatic mail (RFC 3834), so that two robots
        cannot answer each other forever."""
        if self.mode == OFF or is_temporary(answer.reply):
            return False
        if return_path in ("", "<>") or auto_submitted:
            return False
        return self.mode == ALL or answer.result is None

    def compose(self, answer: Answer, to: str, message_id: str | None) -> EmailMessage:
        mail = EmailMessage()
        mail["From"] = self.sender
        mail["To"] = to
        mail["Date"] = formatdate(localtime=False, usegmt=True)
        mail["Message-ID"] = make_msgid(domain=self.hostname)
        mail["Auto-Submitted"] = "auto-replied"
        if message_id:
            mail["In-Reply-To"] = message_id
            mail["References"] = message_id
        result = answer.result
        if result is None:
            mail["Subject"] = "SMS not sent"
            mail.set_content(
                "Your mail was refused and no SMS was sent. The gateway said:\n\n"
                f"  {answer.reply}\n"
            )
            return mail
        mail["Subject"] = f"SMS accepted: batch {result.batch_id}"
        lines = [f"Your mail was accepted as SMS batch {result.batch_id}.", ""]
        if result.messages:
            lines.append("Sent to:")
            lines.extend(
                f"  {m.recipient}  message {m.message_id}  {m.status}"
                for m in result.messages
            )
        if result.rejected:
            lines.append("Not sent to:")
            lines.extend(f"  {r.recipient}  {r.reason}" for r in result.rejected)
        lines += ["", "GetStatus with this BatchId tells how the messages fare."]
        mail.set_content("\n".join(lines) + "\n")
        return mail

    def send(self, mail: EmailMessage) -> None:
        """Hand the mail to the relay, from the null sender: a bounce of a
        confirmation must not come back to us. Failures are logged only."""
        host, port = self.relay
        try:
            with smtplib.SMTP(
                host, port, local_hostname=self.hostname, timeout=self.timeout
            ) as relay:
                relay.send_message(mail, from_addr="", to_addrs=[str(mail["To"])])
        except (OSError, smtplib.SMTPException) as exc:
            logger.warning(
                "smtp reply to %s through %s:%s failed: %s", mail["To"], host, port, exc
            )
