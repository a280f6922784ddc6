"""Recipient splitting and E.164 normalisation (soapsms.domain.phone)."""

from __future__ import annotations

import random

import phonenumbers
import pytest
from phonenumbers import NumberParseException, PhoneNumberType

from soapsms import errors
from soapsms.domain.phone import normalize, normalize_many, split_recipients_text


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("17036069996", ["17036069996"]),
        ("+1 703 606 9996, +44 7700 900123", ["+1 703 606 9996", "+44 7700 900123"]),
        ("a;b\r\nc\rd\ne", ["a", "b", "c", "d", "e"]),
        ("a,,b;;\r\n\r\nc", ["a", "b", "c"]),
        (
            "  +1 703 606 9996  \n\t+1 703 606 9997\t",
            ["+1 703 606 9996", "+1 703 606 9997"],
        ),
        (" , ;\n\r\n ", []),
        ("", []),
        ("(703) 606-9996; [703] 606.9997", ["(703) 606-9996", "[703] 606.9997"]),
    ],
)
def test_split_recipients_text(text: str, expected: list[str]) -> None:
    assert split_recipients_text(text) == expected


@pytest.mark.parametrize(
    ("raw", "region", "expected"),
    [
        # the seed's bare number is read internationally
        ("17036069996", None, "+17036069996"),
        ("17036069996", "US", "+17036069996"),
        ("+17036069996", None, "+17036069996"),
        ("+1 (703) 606-9996", "GB", "+17036069996"),
        # fictitious ranges pass: "possible", not "valid"
        ("+44 7700 900123", None, "+447700900123"),
        ("+1 202 555 0100", None, "+12025550100"),
        # 7 digits after +1 are possible for local dialling only; the library's
        # is_possible_number (and so the contract) accepts them
        ("+1 555 0100", None, "+15550100"),
        ("0044 7700 900123", None, "+447700900123"),
        ("0044 7700 900123", "US", "+447700900123"),
        ("(703) 606-9996", "US", "+17036069996"),
        ("703.606.9996", "US", "+17036069996"),
        ("[703] 606 9996", "US", "+17036069996"),
        ("1-703-606-9996", "US", "+17036069996"),
        ("(604) 555-0123", "CA", "+16045550123"),
        ("07700 900123", "GB", "+447700900123"),
        ("07700 900123", "gb", "+447700900123"),
        ("020 7946 0000", "GB", "+442079460000"),
        ("030 901820", "DE", "+4930901820"),
        ("8 (916) 123-45-67", "RU", "+79161234567"),
        ("06 12 34 56 78", "FR", "+33612345678"),
        # the region's own country code without + (parse's rule)
        ("447700900123", "GB", "+447700900123"),
        # not possible nationally, so read internationally
        ("447700900123", "US", "+447700900123"),
        ("17036069996", "GB", "+17036069996"),
        # national first where both readings are possible
        ("17036069996", "DE", "+4917036069996"),
        # the region's own international prefix
        ("011 44 7700 900123", "US", "+447700900123"),
        # a trunk prefix written after the country code
        ("+44 (0)20 7946 0000", None, "+442079460000"),
        ("+49 (0)30 901820", None, "+4930901820"),
        # leading zeros that belong to the number stay
        ("+39 06 1234 5678", None, "+390612345678"),
        ("06 1234 5678", "IT", "+390612345678"),
        ("+7 916 123-45-67", None, "+79161234567"),
        ("+800 1234 5678", None, "+80012345678"),
        # spaces, dashes and breaks pasted from documents
        ("+44\u00a07700\u2013900123", None, "+447700900123"),
        ("\n  +1 703 606 9996\n", None, "+17036069996"),
        ("  ", "", None),
        # junk
        ("abc", None, None),
        ("abc", "US", None),
        ("123", None, None),
        ("123", "US", None),
        ("+", None, None),
        ("00", None, None),
        ("", None, None),
        ("+0044 7700 900123", None, None),
        ("++17036069996", None, None),
        ("1+7036069996", None, None),
        ("tel:+17036069996", None, None),
        ("+1 703 606 9996 ext 12", None, None),
        ("+1 703 606 9996x12", None, None),
        ("+1 703 606 9996 / 7", None, None),
        ("1-800-FLOWERS", "US", None),
        ("+44 7700 900123 4567 8901 2345", None, None),
        ("+999 1234 5678", None, None),
        ("+1 703 606 9996" + " " * 250, None, None),
        ("\u0661\u0662\u0663\u0664\u0665\u0666\u0667\u0668\u0669\u0660", None, None),
        (
            "\uff11\uff17\uff10\uff13\uff16\uff10\uff16\uff19\uff19\uff19\uff16",
            None,
            None,
        ),
    ],
)
def test_normalize(raw: str, region: str | None, expected: str | None) -> None:
    assert normalize(raw, region) == expected


def test_unknown_region_is_a_configuration_error() -> None:
    with pytest.raises(errors.ConfigError, match="XX"):
        normalize("07700 900123", "XX")
    with pytest.raises(errors.ConfigError):
        normalize_many(["07700 900123"], "ZZ")


def test_normalize_many_keeps_order_and_repeats() -> None:
    raws = ["(703) 606-9996", "junk", "+44 7700 900123", "(703) 606-9996", ""]
    assert normalize_many(raws, "US") == [
        "+17036069996",
        None,
        "+447700900123",
        "+17036069996",
        None,
    ]
    assert normalize_many(iter(["17036069996"])) == ["+17036069996"]
    assert normalize_many([], "US") == []


# --- the fast readers agree with phonenumbers.parse --------------------------


def _parse_e164(number: str, region: str | None) -> str | None:
    try:
        parsed = phonenumbers.parse(number, region)
    except NumberParseException:
        return None
    if not phonenumbers.is_possible_number(parsed):
        return None
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)


def _reference(clean: str, region: str | None) -> str | None:
    """The contract's rule written with nothing but phonenumbers.parse."""
    if clean.startswith("+"):
        return _parse_e164(clean, None)
    if clean.startswith("00"):
        return _parse_e164("+" + clean[2:], None)
    if region is not None:
        national = _parse_e164(clean, region)
        if national is not None:
            return national
    return _parse_e164("+" + clean, None)


_TYPES = (
    PhoneNumberType.MOBILE,
    PhoneNumberType.FIXED_LINE,
    PhoneNumberType.TOLL_FREE,
    PhoneNumberType.PREMIUM_RATE,
    PhoneNumberType.VOIP,
    PhoneNumberType.UAN,
)


def _corpus(region: str, rng: random.Random) -> list[str]:
    """Bare-digit numbers as people write them for and from `region`."""
    metadata = phonenumbers.PhoneMetadata.metadata_for_region(region)
    assert metadata is not None
    country = str(metadata.country_code)
    prefixes = ["", "0", "1", "8", "00", "011", country, country + "0", "+", "+0"]
    prefixes.append("+" + country)
    prefixes.append("+" + country + "0")
    if metadata.national_prefix:
        prefixes.append(metadata.national_prefix)
    idd = metadata.preferred_international_prefix
    if idd and idd.isdigit():
        prefixes += [idd, idd + "0", idd + "1", idd + "44"]
    numbers: list[str] = []
    for kind in _TYPES:
        example = phonenumbers.example_number_for_type(region, kind)
        if example is None:
            continue
        national = phonenumbers.format_number(
            example, phonenumbers.PhoneNumberFormat.NATIONAL
        )
        digits = "".join(char for char in national if char.isdigit())
        e164 = phonenumbers.format_number(example, phonenumbers.PhoneNumberFormat.E164)
        numbers += [digits, e164, e164[1:], "00" + e164[1:]]
        for _ in range(3):
            tail = rng.randint(1, min(4, len(digits)))
            mutated = digits[:-tail] + "".join(rng.choices("0123456789", k=tail))
            numbers += [mutated, mutated[:-1], mutated + "7"]
    for _ in range(25):
        body = "".join(rng.choices("0123456789", k=rng.randint(1, 18)))
        numbers.append(rng.choice(prefixes) + body)
    return numbers


def test_normalize_matches_phonenumbers_parse_in_every_region() -> None:
    rng = random.Random(1)
    mismatches = []
    for region in sorted(phonenumbers.SUPPORTED_REGIONS):
        for clean in _corpus(region, rng):
            for default in (region, None):
                got = normalize(clean, default)
                want = _reference(clean, default)
                if got != want:
                    mismatches.append((clean, default, got, want))
    assert mismatches == []


def test_international_numbers_match_parse_for_every_country_code() -> None:
    rng = random.Random(3)
    mismatches = []
    for country in sorted(phonenumbers.COUNTRY_CODE_TO_REGION_CODE):
        for _ in range(40):
            national = "".join(rng.choices("0123456789", k=rng.randint(1, 18)))
            if rng.random() < 0.3:
                national = "0" * rng.randint(1, 3) + national
            clean = f"+{country}{national}"
            got, want = normalize(clean), _reference(clean, None)
            if got != want:
                mismatches.append((clean, got, want))
    assert mismatches == []


# --- ... and on numbers as people write them ---------------------------------

_ALL_TYPES = (
    *_TYPES,
    PhoneNumberType.SHARED_COST,
    PhoneNumberType.PERSONAL_NUMBER,
    PhoneNumberType.PAGER,
)
# Separators a hand-written or pasted number carries (a no-break space, an en dash).
_SEPARATORS = (" ", "-", ".", "\u00a0", "\u2013", "")


def _written_reference(written: str, region: str | None) -> str | None:
    """The contract's rule applied to the text as written, by parse alone (it
    skips punctuation itself): + or 00 is international; otherwise national in
    the default region if possible there, else international."""
    start = written.lstrip(" \u00a0(")
    if start.startswith("+"):
        return _parse_e164(written, None)
    if start.startswith("00"):
        return _parse_e164("+" + start[2:], None)
    if region is not None:
        national = _parse_e164(written, region)
        if national is not None:
            return national
    return _parse_e164("+" + written, None)


def _regrouped(digits: str, rng: random.Random) -> str:
    groups = []
    while digits:
        size = rng.randint(2, 4)
        groups.append(digits[:size])
        digits = digits[size:]
    separator = rng.choice(_SEPARATORS)
    if len(groups) > 1 and rng.random() < 0.3:
        return f"({groups[0]}) " + separator.join(groups[1:])
    return separator.join(groups)


def _written(region: str, rng: random.Random) -> list[str]:
    """Numbers of every type for `region`, some a few digits off, each in four
    of the ways they reach us: phonenumbers' own national, international and
    E.164 forms, 00 for +, bare digits, and regrouped by hand."""
    written: list[str] = []
    for kind in _ALL_TYPES:
        example = phonenumbers.example_number_for_type(region, kind)
        if example is None:
            continue
        numbers = [example]
        national = str(example.national_number)
        for _ in range(3):
            tail = rng.randint(1, min(4, len(national)))
            digits = national[:-tail] + "".join(rng.choices("0123456789", k=tail))
            numbers.append(phonenumbers.parse(f"+{example.country_code}{digits}"))
        for number in numbers:
            as_national = phonenumbers.format_number(
                number, phonenumbers.PhoneNumberFormat.NATIONAL
            )
            e164 = phonenumbers.format_number(
                number, phonenumbers.PhoneNumberFormat.E164
            )
            bare = "".join(char for char in as_national if char.isdigit())
            forms = [
                as_national,
                phonenumbers.format_number(
                    number, phonenumbers.PhoneNumberFormat.INTERNATIONAL
                ),
                e164,
                "00" + e164[1:],
                e164[1:],
                _regrouped(bare, rng),
                "+" + _regrouped(e164[1:], rng),
                "00 " + _regrouped(e164[1:], rng),
            ]
            written += rng.sample(forms, 4)
    return written


def test_normalize_matches_parse_on_numbers_as_written_in_every_region() -> None:
    rng = random.Random(19)
    compared, mismatches = 0, []
    for region in sorted(phonenumbers.SUPPORTED_REGIONS):
        for written in _written(region, rng):
            for default in (region, None):
                compared += 1
                got, want = (
                    normalize(written, default),
                    _written_reference(written, default),
                )
                if got != want:
                    mismatches.append((written, default, got, want))
    assert compared > 30_000
    assert mismatches == []
