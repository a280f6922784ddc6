"""Encodings and SMS part splitting (soapsms.domain.encoding)."""

from __future__ import annotations

import random

import pytest

from soapsms import errors
from soapsms.domain.encoding import (
    GSM7,
    GSM_BASIC,
    GSM_EXTENSION,
    UCS2,
    EncodedText,
    gsm7_decode,
    gsm7_encode,
    is_gsm7,
    plan,
    ucs2_decode,
    ucs2_encode,
)

EMOJI = "\U0001f600"  # two UTF-16 units
CYR = "\u0439"  # one UTF-16 unit, not GSM


def test_alphabet_tables() -> None:
    assert len(GSM_BASIC) == 128
    assert len(set(GSM_BASIC)) == 128
    assert GSM_BASIC[0x00] == "@"
    assert GSM_BASIC[0x09] == "\u00c7"
    assert GSM_BASIC[0x10] == "\u0394"
    assert GSM_BASIC[0x1B] == "\x1b"
    assert GSM_BASIC[0x24] == "\u00a4"
    assert GSM_BASIC[0x40] == "\u00a1"
    assert GSM_BASIC[0x60] == "\u00bf"
    assert GSM_BASIC[0x7F] == "\u00e0"
    assert set(GSM_EXTENSION) == set("\f^{}\\[~]|\u20ac")
    assert not set(GSM_EXTENSION) & set(GSM_BASIC)


def _shape(result: EncodedText) -> tuple[str, int, list[int]]:
    return result.encoding, result.parts, [len(s) for s in result.segments]


@pytest.mark.parametrize(
    ("text", "encoding", "parts", "lengths"),
    [
        ("Server web01 is down", GSM7, 1, [20]),
        ("a" * 160, GSM7, 1, [160]),
        ("a" * 161, GSM7, 2, [153, 8]),
        ("a" * 306, GSM7, 2, [153, 153]),
        ("a" * 307, GSM7, 3, [153, 153, 1]),
        ("a" * 158 + "\u20ac", GSM7, 1, [159]),  # 160 septets
        ("a" * 159 + "\u20ac", GSM7, 2, [153, 7]),  # 161 septets
        ("{" * 80, GSM7, 1, [80]),  # 160 septets
        ("{" * 81, GSM7, 2, [76, 5]),  # 76 x 2 = 152: the 77th would split
        ("a" * 1530, GSM7, 10, [153] * 10),
        (CYR * 70, UCS2, 1, [70]),
        (CYR * 71, UCS2, 2, [67, 4]),
        (CYR * 134, UCS2, 2, [67, 67]),
        (CYR * 135, UCS2, 3, [67, 67, 1]),
        (EMOJI * 35, UCS2, 1, [35]),  # 70 units
        (EMOJI * 36, UCS2, 2, [33, 3]),  # 33 x 2 = 66: the 34th would split
        (CYR * 670, UCS2, 10, [67] * 10),
        ("a" * 160 + CYR, UCS2, 3, [67, 67, 27]),
    ],
)
def test_parts(text: str, encoding: str, parts: int, lengths: list[int]) -> None:
    result = plan(text)
    assert _shape(result) == (encoding, parts, lengths)
    assert "".join(result.segments) == text


def test_extension_character_at_septet_153_opens_the_next_part() -> None:
    text = "a" * 152 + "\u20ac" + "b" * 10  # the euro would take septets 153-154
    result = plan(text)
    assert result.segments == ("a" * 152, "\u20ac" + "b" * 10)
    assert len(gsm7_encode(result.segments[0])) == 152


def test_extension_character_ending_at_septet_153_stays() -> None:
    text = "a" * 151 + "\u20ac" + "b" * 10
    result = plan(text)
    assert result.segments == ("a" * 151 + "\u20ac", "b" * 10)
    assert len(gsm7_encode(result.segments[0])) == 153


def test_emoji_at_the_67_68_boundary_opens_the_next_part() -> None:
    text = CYR * 66 + EMOJI + CYR * 5  # the emoji would take units 67-68
    result = plan(text)
    assert result.segments == (CYR * 66, EMOJI + CYR * 5)


def test_emoji_ending_at_unit_67_stays() -> None:
    text = CYR * 65 + EMOJI + CYR * 5
    result = plan(text)
    assert result.segments == (CYR * 65 + EMOJI, CYR * 5)


def test_emoji_counts_two_units_for_a_single_part() -> None:
    assert plan(CYR * 68 + EMOJI).parts == 1  # 70 units
    assert plan(CYR * 69 + EMOJI).parts == 2  # 71 units


@pytest.mark.parametrize(
    ("text", "parts"),
    [("a" * 1531, 11), ("\u20ac" * 766, 11), (CYR * 671, 11), ("a" * 5000, 33)],
)
def test_too_many_parts(text: str, parts: int) -> None:
    with pytest.raises(errors.MessageTooLong) as caught:
        plan(text)
    assert caught.value.parts == parts
    assert caught.value.limit == 10
    assert str(caught.value) == f"text needs {parts} SMS parts; the limit is 10"


def test_max_parts_is_the_limit() -> None:
    assert plan("a" * 161, max_parts=2).parts == 2
    with pytest.raises(errors.MessageTooLong) as caught:
        plan("a" * 161, max_parts=1)
    assert (caught.value.parts, caught.value.limit) == (2, 1)


@pytest.mark.parametrize(
    ("text", "encoding"),
    [
        ("Hello", GSM7),
        ("@\u00a3$\u00a5\u00e8\u00e9\u00f9\u00ec\u00f2\u00c7\n\u00d8\u00f8\r", GSM7),
        ("\u00c7a va? {ok} [1] ~x | \\ ^ \u20ac5\f", GSM7),
        ("\u0394\u03a6\u0393\u039b\u03a9\u03a0\u03a8\u03a3\u0398\u039e", GSM7),
        ("\u00e7a va", UCS2),  # small c cedilla is not in the table
        ("Hello " + EMOJI, UCS2),
        ("\u041f\u0440\u0438\u0432\u0435\u0442", UCS2),
        ("\u00e1", UCS2),
        ("`", UCS2),
        ("\t", UCS2),
    ],
)
def test_auto_picks_the_encoding(text: str, encoding: str) -> None:
    assert plan(text).encoding == encoding
    assert plan(text, "Auto").encoding == encoding
    assert is_gsm7(text) is (encoding == GSM7)


@pytest.mark.parametrize(
    ("requested", "encoding"),
    [
        ("Auto", GSM7),
        ("auto", GSM7),
        (" AUTO ", GSM7),
        ("GSM7", GSM7),
        ("gsm7", GSM7),
        ("Gsm7", GSM7),
        ("UCS2", UCS2),
        ("ucs2", UCS2),
    ],
)
def test_requested_encoding_is_case_insensitive(requested: str, encoding: str) -> None:
    assert plan("hello", requested).encoding == encoding


@pytest.mark.parametrize("requested", ["UTF-8", "", "7bit", "UCS-2", "GSM"])
def test_unknown_encoding(requested: str) -> None:
    with pytest.raises(errors.ValidationError, match="Auto, GSM7, UCS2"):
        plan("hello", requested)


def test_forced_ucs2_counts_units() -> None:
    assert _shape(plan("a" * 70, "UCS2")) == (UCS2, 1, [70])
    assert _shape(plan("a" * 71, "UCS2")) == (UCS2, 2, [67, 4])


def test_forcing_gsm7_on_text_it_cannot_carry() -> None:
    with pytest.raises(errors.ValidationError, match="'\u041f'"):
        plan("\u041f\u0440\u0438\u0432\u0435\u0442", "GSM7")
    with pytest.raises(errors.ValidationError, match="U\\+1F600\\) at position 4"):
        plan("ok " + EMOJI, "gsm7")


def test_empty_text() -> None:
    with pytest.raises(errors.ValidationError, match="empty"):
        plan("")


def test_unpaired_surrogate() -> None:
    with pytest.raises(errors.ValidationError, match="surrogate"):
        plan("a\ud800b")


def test_random_texts_split_into_parts_that_fit() -> None:
    rng = random.Random(5)
    alphabet = "ab {}\u20ac" + CYR + EMOJI
    for _ in range(300):
        text = "".join(rng.choices(alphabet, k=rng.randint(1, 700)))
        try:
            result = plan(text, max_parts=100)
        except errors.MessageTooLong:
            continue
        assert "".join(result.segments) == text
        assert result.parts == len(result.segments)
        if result.encoding == GSM7:
            sizes = [len(gsm7_encode(s)) for s in result.segments]
            single, part = 160, 153
        else:
            sizes = [len(ucs2_encode(s)) // 2 for s in result.segments]
            single, part = 70, 67
        if result.parts == 1:
            assert sizes[0] <= single
        else:
            assert max(sizes) <= part
            # greedy: the next character would not have fitted in any part
            for size, nxt in zip(sizes, result.segments[1:], strict=False):
                cost = (
                    len(gsm7_encode(nxt[0]))
                    if result.encoding == GSM7
                    else len(ucs2_encode(nxt[0])) // 2
                )
                assert size + cost > part


@pytest.mark.parametrize(
    ("text", "data"),
    [
        ("@", b"\x00"),
        ("A", b"\x41"),
        ("\n", b"\x0a"),
        ("\u00e0", b"\x7f"),
        ("\u20ac", b"\x1b\x65"),
        ("\f", b"\x1b\x0a"),
        ("[x]", b"\x1b\x3cx\x1b\x3e"),
        ("Hi {you}", b"Hi \x1b\x28you\x1b\x29"),
        ("", b""),
    ],
)
def test_gsm7_encode(text: str, data: bytes) -> None:
    assert gsm7_encode(text) == data
    assert gsm7_decode(data) == text


def test_gsm7_round_trip_of_every_character() -> None:
    text = "".join(c for c in GSM_BASIC if c != "\x1b") + "".join(GSM_EXTENSION)
    data = gsm7_encode(text)
    assert len(data) == 127 + 2 * len(GSM_EXTENSION)
    assert gsm7_decode(data) == text
    for code, char in enumerate(GSM_BASIC):
        if code != 0x1B:
            assert gsm7_encode(char) == bytes([code])


def test_gsm7_encode_refuses_other_characters() -> None:
    with pytest.raises(errors.ValidationError, match="'\u041f'"):
        gsm7_encode("\u041f\u0440\u0438\u0432\u0435\u0442")


@pytest.mark.parametrize(
    ("data", "text"),
    [
        (b"\x1b\x41", "A"),  # undefined escape: the default-alphabet character
        (b"a\x1b\x1bb", "a b"),  # escape to a further table: a space
    ],
)
def test_gsm7_decode_tolerates_undefined_escapes(data: bytes, text: str) -> None:
    assert gsm7_decode(data) == text


@pytest.mark.parametrize("data", [b"\x80", b"ok\xff", b"ok\x1b"])
def test_gsm7_decode_refuses_malformed_data(data: bytes) -> None:
    with pytest.raises(errors.ValidationError):
        gsm7_decode(data)


def test_ucs2() -> None:
    assert ucs2_encode("A") == b"\x00A"
    assert ucs2_encode(EMOJI) == b"\xd8\x3d\xde\x00"
    assert ucs2_decode(ucs2_encode("h\u00e9 " + EMOJI)) == "h\u00e9 " + EMOJI
    with pytest.raises(errors.ValidationError):
        ucs2_encode("\udc00")
    with pytest.raises(errors.ValidationError):
        ucs2_decode(b"\xd8\x3d")
