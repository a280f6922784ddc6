"""soapsms errors and message statuses → SNPP reply lines; the only place that
knows RFC 1861's codes.

2xx: done. 3xx: send the DATA lines. 421: the gateway closes the connection.
500: no such command. 503: out of sequence. 550: refused for an
administrative reason (login, number, text), 552: too many entries, 554:
failed for a technical reason (store unreachable, rate limit): the session
goes on after every 5xx. MSTA answers 9xx (queued), 8xx (delivered) or 7xx
(failed), as two-way status codes.
"""

from __future__ import annotations

import re
from datetime import datetime

from soapsms import errors
from soapsms.domain import status
from soapsms.usecases.results import MessageStatus

# Longer reply lines are cut: RFC 1861 sets no limit, old clients have 512.
_MAX_TEXT = 400

GREETING = "220 SNPP (RFC 1861) Gateway Ready"
GOODBYE = "221 OK, Goodbye"
TIMEOUT = "421 Timeout, Goodbye"
TOO_MANY_ERRORS = "421 Too Many Errors, Goodbye"
LINE_TOO_LONG = "500 Error, Line Too Long"
NOT_IMPLEMENTED = "500 Command Not Implemented"
INCOMPLETE = "503 Error, Pager ID or Message Incomplete"
LOGIN_REQUIRED = "503 Error, Login Required: send LOGI <account> <password> first"
ALREADY_ENTERED = "503 ERROR, Message Already Entered"
PASSWORD_REQUIRED = "550 Error, Invalid Login: LOGI <account> <password>"
INVALID_PAGER = "550 Error, Invalid Pager ID"
INVALID_MESSAGE = "550 Error, Invalid Message"
MAXIMUM_ENTRIES = "552 Maximum Entries Exceeded"
UNKNOWN_TAG = "550 Error, Unknown or Illegal Message_Tag or Pass_Code"
INTERNAL = "554 Error, failed (internal error); try again later"

HELP = (
    "214 soapsms SNPP gateway (RFC 1861): text messages to phone numbers",
    "214 LOGI <account> <password>   log in (needed before SEND)",
    "214 PAGE <number>               add a recipient (repeat for several)",
    "214 MESS <text>                 the message on one line, or",
    "214 DATA                        several lines, ended by a line with a .",
    "214 SUBJ <subject>              put before the text",
    "214 HOLD YYMMDDHHMMSS [+/-HHMM] send at that time (GMT offset)",
    "214 SEND                        send to every PAGE; answers MSTA tags",
    "214 MSTA <tag> <pass code>      status of a message sent in this session",
    "214 RESE  QUIT  HELP;  LEVE ALER COVE CALL are accepted and ignored",
    "250 End of Help Information",
)

# Most specific first: (error class, code, the RFC's words before our reason).
_CODES: list[tuple[type[errors.SoapsmsError], str]] = [
    (errors.LoginThrottled, "421 Too Many Failed Logins, Goodbye"),
    (errors.AuthenticationFailed, "550 Error, Invalid Login"),
    (errors.AccessDenied, "550 Error, Access Denied"),
    (errors.InvalidRecipient, "550 Error, Invalid Pager ID"),
    (errors.TooManyRecipients, "552 Maximum Entries Exceeded"),
    (errors.MessageTooLong, "550 Error, Invalid Message"),
    (errors.InsufficientCredit, "550 Error, Insufficient Credit"),
    # A spent per-minute limit is cured by waiting, like a technical failure.
    (errors.RateLimited, "554 Error, failed (rate limit)"),
    (errors.ClientError, "550 Error"),
    (errors.ServerError, "554 Error, failed (gateway unavailable)"),
]


def clean(text: str) -> str:
    """One printable ASCII line: nothing a client sent can split a reply."""
    text = re.sub(r"[^\x20-\x7e]+", " ", text).strip()
    return text if len(text) <= _MAX_TEXT else text[: _MAX_TEXT - 3] + "..."


def for_error(error: errors.SoapsmsError) -> str:
    for cls, head in _CODES:
        if isinstance(error, cls):
            if isinstance(error, errors.LoginThrottled):
                # Its message is a failed login's, which would read as final.
                return f"{head}; try again later"
            return clean(f"{head}: {error.message}")
    return INTERNAL


def closes(reply: str) -> bool:
    """Whether the gateway closes the connection after this reply."""
    return reply.startswith(("221", "421"))


def is_error(reply: str) -> bool:
    return reply.startswith("5")


def sent(batch_id: str, count: int, first_tag: int, pass_code: str) -> str:
    tags = str(first_tag) if count == 1 else f"{first_tag}-{first_tag + count - 1}"
    return (
        f"250 Message Sent Successfully: batch {batch_id}, {count} message(s); "
        f"MSTA tag {tags}, pass code {pass_code}"
    )


def _stamp(value: datetime | None) -> str:
    """RFC 1861's YYMMDDHHMMSS with the GMT offset; our times are UTC."""
    return f"{value:%y%m%d%H%M%S}+0000" if value is not None else "000000000000+0000"


def message_status(tag: int, message: MessageStatus) -> str:
    """MSTA's answer: code, tag, time of the status, and the status in words."""
    when = _stamp(message.updated_at or message.created_at)
    head = f"{tag} {when}"
    if message.status == status.DELIVERED:
        return f"880 {head} Message Delivered (DELIVERED)"
    if message.status in status.TERMINAL:
        reason = message.error_text or message.error_code or "no reason given"
        return clean(f"780 {head} Message Not Delivered ({message.status}): {reason}")
    return f"960 {head} OK, Message QUEUED for Delivery ({message.status})"
