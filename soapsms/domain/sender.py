"""Validation of the sender (originator) shown on the handset."""

from __future__ import annotations

import re

from soapsms import errors

MAX_ALPHANUMERIC = 11  # the TP-OA field holds 11 GSM characters
MAX_NUMERIC = 15  # digits of an E.164 number

# Narrower than "GSM characters": SMPP source_addr is an ASCII C-string, and
# carriers and destination countries widely refuse or mangle alphanumeric
# senders with accents or punctuation, so only A-Z, a-z, 0-9 and space pass.
_LETTER = re.compile(r"[A-Za-z]")
_NUMERIC = re.compile(r"\+?[0-9]+")
_NOT_ALLOWED = re.compile(r"[^A-Za-z0-9 ]")


def validate_sender(sender: str) -> str:
    """Return the sender without surrounding whitespace, or raise InvalidSender.

    A sender is alphanumeric (1..11 of A-Z, a-z, 0-9 and space, at least one
    letter) or numeric (1..15 digits, optionally after a leading +).
    """
    value = sender.strip()
    if not value:
        raise errors.InvalidSender("Sender is empty")
    if _NUMERIC.fullmatch(value):
        digits = len(value.lstrip("+"))
        if digits > MAX_NUMERIC:
            raise errors.InvalidSender(
                f"Sender {value!r} has {digits} digits; a numeric sender has at"
                f" most {MAX_NUMERIC}"
            )
        return value
    offending = _NOT_ALLOWED.search(value)
    if offending is not None:
        raise errors.InvalidSender(
            f"Sender {value!r} contains {offending.group()!r}; an alphanumeric"
            " sender may only use letters A-Z, digits and spaces, and a numeric"
            " sender only digits after an optional leading +"
        )
    if len(value) > MAX_ALPHANUMERIC:
        raise errors.InvalidSender(
            f"Sender {value!r} has {len(value)} characters; an alphanumeric"
            f" sender has at most {MAX_ALPHANUMERIC}"
        )
    if _LETTER.search(value) is None:
        raise errors.InvalidSender(
            f"Sender {value!r} needs a letter to be alphanumeric, or no spaces"
            " to be numeric"
        )
    return value
