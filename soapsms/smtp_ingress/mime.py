"""A mail's MIME structure → the plain text of its body."""

from __future__ import annotations

import re
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from html.parser import HTMLParser

from soapsms.errors import ParseError

# More multipart containers than any mail client nests (a forward of a
# forward of a signed mail has four or five); the parser recurses per level.
MAX_MULTIPARTS = 32
_MULTIPART = re.compile(rb"(?im)^content-type:[ \t]*multipart/")


def read(data: bytes) -> EmailMessage:
    """Parse a mail; the parser records defects instead of failing, as mail
    in the wild is often malformed. Too deep a MIME tree is a ParseError: a
    permanent refusal, as the same mail can never be read."""
    if len(_MULTIPART.findall(data)) > MAX_MULTIPARTS:
        raise ParseError(f"the mail nests more than {MAX_MULTIPARTS} multipart parts")
    try:
        message = BytesParser(policy=policy.default).parsebytes(data)
    except RecursionError as exc:
        raise ParseError("the mail's MIME structure is nested too deeply") from exc
    assert isinstance(message, EmailMessage)  # what policy.default builds
    return message


def body_text(message: EmailMessage) -> str:
    """The text/plain part (or HTML reduced to text), decoded, lines unflowed.

    Line endings are left as they came; the caller normalises them.
    """
    try:
        part = message.get_body(preferencelist=("plain", "html"))
    except (LookupError, ValueError, RecursionError) as exc:  # a broken MIME tree
        raise ParseError(f"the mail's MIME structure cannot be read: {exc}") from exc
    if part is None:
        raise ParseError("the mail has no text/plain or text/html part")
    payload = part.get_payload(decode=True)
    raw = payload if isinstance(payload, bytes) else b""
    text = _decode(raw, part.get_content_charset())
    if part.get_content_subtype() == "html":
        return html_to_text(text)
    if str(part.get_param("format", "")).lower() == "flowed":
        delsp = str(part.get_param("delsp", "")).lower() == "yes"
        return unflow(text, delsp)
    return text


def _decode(raw: bytes, charset: str | None) -> str:
    """Decode with the declared charset; mislabelled or unlabelled 8-bit text
    (scripts rarely declare one) is tried as UTF-8, then, only when nothing
    was declared, as Windows-1252."""
    if charset:
        try:
            return raw.decode(charset)
        except (LookupError, UnicodeDecodeError):
            pass
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        if charset:
            raise ParseError(
                f"the text cannot be decoded as its declared charset {charset!r}"
            ) from None
    return raw.decode("cp1252", errors="replace")


def unflow(text: str, delsp: bool) -> str:
    """Undo RFC 3676 format=flowed: a line ending in a space continues on the
    next one (mail clients wrap long lines at ~72 characters this way)."""
    lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    out: list[str] = []
    current: str | None = None
    for line in lines:
        if line.startswith(" "):
            line = line[1:]  # space-stuffing
        soft = line.endswith(" ") and line != "-- "
        if soft and delsp:
            line = line[:-1]
        current = line if current is None else current + line
        if not soft:
            out.append(current)
            current = None
    if current is not None:
        out.append(current)
    return "\n".join(out)


_BLOCK = frozenset(
    "address article blockquote dd div dl dt h1 h2 h3 h4 h5 h6 hr li ol p pre "
    "section table td th tr ul".split()
)
_HIDDEN = frozenset(("head", "script", "style", "title", "template"))
_BREAK = "\x00"  # a block boundary; runs of them become one line break


class _TextExtractor(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.hidden = 0
        self.pre = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _HIDDEN:
            self.hidden += 1
        elif tag == "br":
            self.parts.append("\n")
        elif tag in _BLOCK:
            self.parts.append(_BREAK)
            if tag == "pre":
                self.pre += 1

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "br":
            self.parts.append("\n")
        elif tag in _BLOCK:
            self.parts.append(_BREAK)

    def handle_endtag(self, tag: str) -> None:
        if tag in _HIDDEN:
            self.hidden = max(0, self.hidden - 1)
        elif tag in _BLOCK:
            self.parts.append(_BREAK)
            if tag == "pre":
                self.pre = max(0, self.pre - 1)

    def handle_data(self, data: str) -> None:
        if self.hidden:
            return
        if not self.pre:
            # Source line breaks are mere spaces in HTML (Outlook wraps its
            # HTML source at 76 columns, inside paragraphs).
            data = re.sub(r"[ \t\r\n\f]+", " ", data)
        self.parts.append(data)


def html_to_text(html: str) -> str:
    """What a reader sees: one line per paragraph, <br> or table row;
    scripts, styles and the head left out; entities resolved."""
    extractor = _TextExtractor()
    extractor.feed(html)
    extractor.close()
    text = "".join(extractor.parts)
    text = re.sub(rf"[ \t]*(?:{_BREAK}[ \t]*)+", "\n", text)
    return "\n".join(line.strip() for line in text.split("\n"))
