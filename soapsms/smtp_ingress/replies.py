"""soapsms errors and results → SMTP reply lines; the only place that knows them.

5xx: the mail is refused for good and nothing was stored; the sending server
bounces it with our reason. 4xx: a temporary failure (store unreachable, a
rate limit): the sending server keeps the mail and retries, and the
Message-ID makes a retry that overlaps a success count once.
"""

from __future__ import annotations

import re

from soapsms import errors
from soapsms.usecases.results import SendResult

# RFC 5321: a reply line is at most 512 octets with its code and CRLF.
_MAX_TEXT = 400

# Most specific first; (code, enhanced status code RFC 3463).
_CODES: list[tuple[type[errors.SoapsmsError], str]] = [
    # Behind one relay, one sender's wrong password throttles every sender's
    # logins for a while: their alerts must wait, not bounce.
    (errors.LoginThrottled, "451 4.7.1"),
    (errors.AuthenticationFailed, "550 5.7.8"),
    (errors.AccessDenied, "550 5.7.1"),
    (errors.RateLimited, "451 4.7.1"),
    # Credits are topped up by an operator, not by waiting: a retried alert
    # would arrive stale, so the sender is told at once.
    (errors.InsufficientCredit, "550 5.7.1"),
    (errors.ClientError, "550 5.6.0"),
    (errors.ServerError, "451 4.3.0"),
]

_INTERNAL_CODE = "451 4.3.0"
INTERNAL = f"{_INTERNAL_CODE} internal error; try again later"
TOO_MANY_ON_CONNECTION = (
    "451 4.7.1 too many mails on this connection in a minute; try again later"
)


def clean(text: str) -> str:
    """One printable ASCII line: a reply must not be split or corrupted by what
    a sender put in a field that an error message quotes."""
    text = re.sub(r"[^\x20-\x7e]+", " ", text).strip()
    return text if len(text) <= _MAX_TEXT else text[: _MAX_TEXT - 3] + "..."


def code_of(error: errors.SoapsmsError) -> str:
    for cls, code in _CODES:
        if isinstance(error, cls):
            return code
    return _INTERNAL_CODE


def for_error(error: errors.SoapsmsError) -> str:
    if isinstance(error, errors.LoginThrottled):
        # Its message is a failed login's, which would read as final here.
        return f"{code_of(error)} too many failed logins lately; try again later"
    return f"{code_of(error)} {clean(error.message)}"


def accepted(result: SendResult) -> str:
    return clean(
        f"250 2.0.0 accepted as batch {result.batch_id}: "
        f"{result.accepted_count} message(s), "
        f"{result.rejected_count} number(s) rejected"
    )


def is_temporary(reply: str) -> bool:
    return reply.startswith("4")
