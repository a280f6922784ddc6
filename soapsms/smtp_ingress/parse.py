"""The id:/password:/message:/numbers/end format: a mail's bytes → an SMS request.

    id:acme
    password:s3cret
    message:Server web01 is down      (the text may also start on the next line
    17036069996                        and span lines, joined with a line feed,
    17036069997                        until the first number line)
    end                               (anything after it is ignored)

Pure: no store, no network; every refusal is a ParseError saying precisely
what is wrong, never quoting the password or the text (it ends up in logs
and bounces).
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from email.message import EmailMessage

from soapsms.errors import ParseError
from soapsms.smtp_ingress.mime import body_text, read

__all__ = ["Mail", "ParseError", "Request", "parse_mail", "parse_request", "read_mail"]

# A key line: `id:`, `password:` or `message:`, any case, spaces around the colon.
_KEY = re.compile(r"\s*(id|password|message)\s*:(.*)", re.IGNORECASE | re.DOTALL)
# One number: an optional + (00 is digits), then digits with spaces, dashes,
# dots or parentheses inside.
_NUMBER = re.compile(r"\+?\s*[(\d][\d\s().\-]*[\d)]")
# Fewer digits than this is text ("503", "42"), not a number line.
MIN_NUMBER_DIGITS = 5
# The contract's limit for a ClientReference.
MAX_REFERENCE = 255
# Invisible characters that mail clients scatter (BOM, zero-width space); a
# no-break space becomes a plain space so that GSM-7 text stays GSM-7.
_INVISIBLE = str.maketrans({"\ufeff": None, "\u200b": None, "\xa0": " "})


@dataclass(frozen=True)
class Mail:
    """The headers that matter, and the parsed message for the body."""

    message_id: str | None
    auto_submitted: bool
    message: EmailMessage = field(repr=False, compare=False)

    @property
    def client_reference(self) -> str | None:
        return client_reference(self.message_id)


@dataclass(frozen=True)
class Request:
    """What a mail asks for, before any account or number check."""

    account_id: str
    password: str = field(repr=False)
    text: str = field(repr=False)
    numbers: tuple[str, ...]
    client_reference: str | None


def client_reference(message_id: str | None) -> str | None:
    """The Message-ID without its angle brackets, as the batch's ClientReference.

    A longer one than the contract allows is replaced by its SHA-256, so the
    same mail still maps to the same batch.
    """
    if message_id is None:
        return None
    value = message_id.strip()
    if value.startswith("<") and value.endswith(">"):
        value = value[1:-1].strip()
    if not value:
        return None
    if len(value) > MAX_REFERENCE:
        return "sha256:" + hashlib.sha256(value.encode()).hexdigest()
    return value


def read_mail(data: bytes) -> Mail:
    """The headers of a mail (the body is read by parse_request); fails only
    on a MIME tree nested too deeply to read (ParseError)."""
    message = read(data)
    message_id = message.get("Message-ID")
    auto = str(message.get("Auto-Submitted", "no")).strip().lower()
    return Mail(
        message_id=str(message_id) if message_id is not None else None,
        auto_submitted=not auto.startswith("no"),
        message=message,
    )


def parse_mail(data: bytes) -> Request:
    """read_mail, then parse_request: bytes of a mail → its request."""
    return parse_request(read_mail(data))


def parse_request(mail: Mail) -> Request:
    """The request in the mail's body, or a ParseError saying what is wrong."""
    account_id, password, text, numbers = parse_body(body_text(mail.message))
    return Request(account_id, password, text, numbers, mail.client_reference)


def is_number_line(line: str) -> bool:
    """A line that holds one phone number and nothing else."""
    line = line.strip()
    return (
        _NUMBER.fullmatch(line) is not None
        and sum(c.isdigit() for c in line) >= MIN_NUMBER_DIGITS
    )


def parse_body(body: str) -> tuple[str, str, str, tuple[str, ...]]:
    """(account id, password, text, number lines) from the body's text."""
    lines = (
        body.translate(_INVISIBLE).replace("\r\n", "\n").replace("\r", "\n").split("\n")
    )
    keys, start = _keys(lines)
    text_lines = [keys["message"].strip()]
    numbers: list[str] = []
    for index in range(start, len(lines)):
        line = lines[index].strip()
        if line.lower() == "end":
            break
        if numbers and line and not is_number_line(line):
            raise ParseError(
                f"line {index + 1} is not a phone number: put one number on "
                "each line after the text, then a line with end"
            )
        if is_number_line(line):
            numbers.append(line)
        elif not numbers:
            text_lines.append(lines[index].rstrip())
    else:
        raise ParseError("no end line: finish the numbers with a line holding only end")
    text = "\n".join(text_lines).strip("\n")
    if not text.strip():
        raise ParseError("the message text is empty")
    if not numbers:
        raise ParseError(
            "no number line before end: put each number on a line of its own"
        )
    return keys["id"], keys["password"], text, tuple(numbers)


def _keys(lines: list[str]) -> tuple[dict[str, str], int]:
    """The id:, password: and message: lines (any order; blank lines skipped)
    and the index of the line after message:."""
    keys: dict[str, str] = {}
    for index, line in enumerate(lines):
        if not line.strip():
            continue
        match = _KEY.fullmatch(line)
        if match is None:
            raise ParseError(
                f"line {index + 1} is not id:, password: or message: "
                "(the body starts with those three lines)"
            )
        key = match.group(1).lower()
        if key in keys:
            raise ParseError(f"line {index + 1}: {key}: is given twice")
        keys[key] = match.group(2) if key == "message" else match.group(2).strip()
        if key == "message":
            for needed in ("id", "password"):
                if not keys.get(needed):
                    raise ParseError(f"{needed}: is missing or empty before message:")
            return keys, index + 1
    raise ParseError("no message: line (the body needs id:, password: and message:)")
