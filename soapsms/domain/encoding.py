"""SMS text encodings (GSM 03.38 default alphabet, UCS-2) and part splitting."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from itertools import pairwise
from types import MappingProxyType

from soapsms import errors

GSM7 = "GSM7"
UCS2 = "UCS2"
AUTO = "Auto"
ENCODINGS = (AUTO, GSM7, UCS2)

# 3GPP TS 23.038 6.2.1: the character at each code 0x00..0x7F. Code 0x1B is the
# escape to the extension table, not a character of the text.
GSM_BASIC = (
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞ\x1bÆæßÉ"
    " !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§"
    "¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
# 3GPP TS 23.038 6.2.1.1: sent as ESC followed by the code, so two septets.
GSM_EXTENSION = MappingProxyType(
    {
        "\f": 0x0A,
        "^": 0x14,
        "{": 0x28,
        "}": 0x29,
        "\\": 0x2F,
        "[": 0x3C,
        "~": 0x3D,
        "]": 0x3E,
        "|": 0x40,
        "€": 0x65,
    }
)

_ESC = "\x1b"
_ESC_CODE = 0x1B

# Text to unpacked septets, one code point per septet, so that the translated
# string's length is the septet count and its slices are the parts.
_TO_SEPTETS: dict[int, str] = {
    ord(char): chr(code) for code, char in enumerate(GSM_BASIC) if code != _ESC_CODE
}
_TO_SEPTETS.update(
    {ord(char): _ESC + chr(code) for char, code in GSM_EXTENSION.items()}
)
_FROM_EXTENSION = {code: char for char, code in GSM_EXTENSION.items()}
_FROM_BASIC = {code: char for code, char in enumerate(GSM_BASIC)}

_NOT_GSM = re.compile(
    "[^"
    + re.escape("".join(char for char in GSM_BASIC if char != _ESC))
    + re.escape("".join(GSM_EXTENSION))
    + "]"
)

GSM7_SINGLE = 160  # septets in a message of one part
GSM7_PART = 153  # septets per part once split (7 go to the concatenation header)
UCS2_SINGLE = 70  # UTF-16 code units in a message of one part
UCS2_PART = 67  # UTF-16 code units per part once split

# Whether ending a part before unit `end` would cut a character in two.
_Splits = Callable[[int], bool]


@dataclass(frozen=True)
class EncodedText:
    """How a text goes out: its encoding and the text of each SMS part."""

    encoding: str
    parts: int
    segments: tuple[str, ...]


def is_gsm7(text: str) -> bool:
    """Whether GSM 03.38 (default alphabet plus extension table) can carry `text`."""
    return _NOT_GSM.search(text) is None


def plan(text: str, requested: str = AUTO, max_parts: int = 10) -> EncodedText:
    """Choose the encoding for `text` and split it into SMS parts.

    `requested` is Auto, GSM7 or UCS2 in any case. Raises errors.ValidationError
    for empty text, an unknown encoding or GSM7 forced on text it cannot carry,
    and errors.MessageTooLong when the text needs more than `max_parts` parts.
    """
    mode = _requested(requested)
    if not text:
        raise errors.ValidationError("Text is empty")
    offending = _NOT_GSM.search(text)
    if mode == GSM7 and offending is not None:
        raise errors.ValidationError(
            f"Encoding GSM7 cannot carry the character {_describe(offending.group())}"
            f" at position {offending.start() + 1}"
        )
    if mode == UCS2 or offending is not None:
        return _plan_ucs2(text, max_parts)
    return _plan_gsm7(text, max_parts)


def gsm7_encode(text: str) -> bytes:
    """Unpacked GSM 03.38: one septet an octet, extension characters as ESC + code.

    This is what SMPP carries with data_coding 0. Raises errors.ValidationError
    for a character outside the default alphabet and its extension table.
    """
    offending = _NOT_GSM.search(text)
    if offending is not None:
        raise errors.ValidationError(
            f"GSM7 cannot carry the character {_describe(offending.group())}"
        )
    return text.translate(_TO_SEPTETS).encode("ascii")


def gsm7_decode(data: bytes) -> str:
    """Text of unpacked GSM 03.38 septets, the inverse of gsm7_encode.

    As TS 23.038 asks of receivers, an escape to a code the extension table
    does not define reads as the default-alphabet character, and ESC ESC (kept
    for a further table) as a space. Raises errors.ValidationError for octets
    above 0x7F and for an escape that ends the data.
    """
    chars: list[str] = []
    escaped = False
    for octet in data:
        if octet > 0x7F:
            raise errors.ValidationError(f"0x{octet:02X} is not a GSM 03.38 septet")
        if escaped:
            escaped = False
            if octet == _ESC_CODE:
                chars.append(" ")
            else:
                chars.append(_FROM_EXTENSION.get(octet) or _FROM_BASIC[octet])
        elif octet == _ESC_CODE:
            escaped = True
        else:
            chars.append(_FROM_BASIC[octet])
    if escaped:
        raise errors.ValidationError("GSM 03.38 data ends inside an escape sequence")
    return "".join(chars)


def ucs2_encode(text: str) -> bytes:
    """UTF-16-BE, as SMPP carries UCS2 (data_coding 8); surrogate pairs allowed."""
    try:
        return text.encode("utf-16-be")
    except UnicodeEncodeError as exc:
        raise errors.ValidationError(
            f"Text holds an unpaired surrogate at position {exc.start + 1}"
        ) from None


def ucs2_decode(data: bytes) -> str:
    """Text of UTF-16-BE octets, the inverse of ucs2_encode."""
    try:
        return data.decode("utf-16-be")
    except UnicodeDecodeError as exc:
        raise errors.ValidationError(f"Not UTF-16-BE data: {exc.reason}") from None


def _requested(requested: str) -> str:
    wanted = requested.strip().upper()
    for name in ENCODINGS:
        if wanted == name.upper():
            return name
    raise errors.ValidationError(
        f"Encoding must be one of {', '.join(ENCODINGS)}, not {requested!r}"
    )


def _describe(char: str) -> str:
    return f"{char!r} (U+{ord(char):04X})"


def _plan_gsm7(text: str, max_parts: int) -> EncodedText:
    septets = text.translate(_TO_SEPTETS)
    if len(septets) <= GSM7_SINGLE:
        _check_parts(1, max_parts)
        return EncodedText(GSM7, 1, (text,))
    # Walk part ends over the septets; an end that would fall between an ESC
    # and its code moves back one septet, so the character opens the next part.
    ends = _part_ends(len(septets), GSM7_PART, lambda end: septets[end - 1] == _ESC)
    _check_parts(len(ends), max_parts)
    segments: list[str] = []
    start = char_start = 0
    for end in ends:
        chars = end - start - septets.count(_ESC, start, end)
        segments.append(text[char_start : char_start + chars])
        start, char_start = end, char_start + chars
    return EncodedText(GSM7, len(segments), tuple(segments))


def _plan_ucs2(text: str, max_parts: int) -> EncodedText:
    units = ucs2_encode(text)
    if len(units) // 2 <= UCS2_SINGLE:
        _check_parts(1, max_parts)
        return EncodedText(UCS2, 1, (text,))
    # A part may not end on a high surrogate (0xD800-0xDBFF): the pair stays whole.
    ends = _part_ends(
        len(units) // 2, UCS2_PART, lambda end: 0xD8 <= units[2 * end - 2] <= 0xDB
    )
    _check_parts(len(ends), max_parts)
    segments = tuple(
        units[2 * start : 2 * end].decode("utf-16-be")
        for start, end in pairwise((0, *ends))
    )
    return EncodedText(UCS2, len(segments), segments)


def _part_ends(total: int, size: int, splits_char: _Splits) -> list[int]:
    """Greedy part ends, in units: each part as full as it can be."""
    ends: list[int] = []
    start = 0
    while start < total:
        end = min(start + size, total)
        if end < total and splits_char(end):
            end -= 1
        ends.append(end)
        start = end
    return ends


def _check_parts(parts: int, max_parts: int) -> None:
    if parts > max_parts:
        raise errors.MessageTooLong(
            f"text needs {parts} SMS parts; the limit is {max_parts}",
            parts=parts,
            limit=max_parts,
        )
