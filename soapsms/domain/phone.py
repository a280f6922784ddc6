"""Recipient lists and phone-number normalisation to E.164.

`normalize(raw, region)` strips the punctuation people write into numbers
(`_PUNCTUATION`), takes only ASCII digits with an optional leading `+` or `00`
and then gives exactly what phonenumbers gives for those digits, namely
`format_number(parse(text, region), E164)` when `is_possible_number` holds,
else None: `parse("+" + digits)` for `+` or `00`; otherwise
`parse(digits, region)`, and `parse("+" + digits)` when that is not possible
or there is no region. That includes parse's trunk-prefix stripping (and
its transform rules), its international-prefix (IDD) reading, the region's
own country code dialled without `+`, and judging possibility by the country
code's main region. What parse takes and the contract refuses (letters,
extensions, `tel:` URIs, other scripts' digits) is refused before it.
tests/test_domain_phone.py holds the two to each other over every region.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable
from dataclasses import dataclass

import phonenumbers
from phonenumbers import NumberParseException, PhoneMetadata

from soapsms import errors

_SEPARATORS = re.compile(r"[,;\r\n]+")

# Besides the ASCII forms, the look-alikes that word processors and spreadsheets
# put into numbers pasted from documents (no-break spaces, Unicode dashes), and
# the line breaks of a pretty-printed <Recipient> element.
_PUNCTUATION = (
    " \t\n\r\v\f\u00a0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008"
    "\u2009\u200a\u202f\u205f\u3000\ufeff"
    "-\u2010\u2011\u2012\u2013\u2014\u2015\u2212\ufe63\uff0d"
    ".()[]"
)
_STRIP = str.maketrans("", "", _PUNCTUATION)

# [0-9] rather than \d: \d admits other scripts' digits, which no carrier takes.
_SHAPE = re.compile(r"(\+|00)?([0-9]+)")

_E164 = phonenumbers.PhoneNumberFormat.E164
_MIN_NSN_LENGTH = 2  # phonenumbers' bounds on a national significant number
_MAX_NSN_LENGTH = 17
_MAX_COUNTRY_CODE_LENGTH = 3
_MAX_INPUT_LENGTH = 250  # parse refuses longer input; checked first, so junk is cheap


def split_recipients_text(text: str) -> list[str]:
    """Split a RecipientsText value into its non-blank entries, in order."""
    return [entry for part in _SEPARATORS.split(text) if (entry := part.strip())]


def normalize(raw: str, default_region: str | None = None) -> str | None:
    """Return `raw` as an E.164 number (`+` and digits), or None if not a number.

    `default_region` is an ISO 3166 region code (`US`, `GB`); digits without
    `+` or `00` that form a possible number there are read as national.
    Raises errors.ConfigError for a region phonenumbers does not know.
    """
    return _normalize(raw, _region(default_region))


def normalize_many(
    raws: Iterable[str], default_region: str | None = None
) -> list[str | None]:
    """Normalise each entry like `normalize`, in order, working out repeats once."""
    region = _region(default_region)
    seen: dict[str, str | None] = {}
    result: list[str | None] = []
    for raw in raws:
        if raw not in seen:
            seen[raw] = _normalize(raw, region)
        result.append(seen[raw])
    return result


def _region(default_region: str | None) -> str | None:
    if default_region is None or not default_region.strip():
        return None
    region = default_region.strip().upper()
    if region not in phonenumbers.SUPPORTED_REGIONS:
        # Ignoring it would silently read national numbers as foreign ones.
        raise errors.ConfigError(f"unknown default region {default_region!r}")
    return region


def _normalize(raw: str, region: str | None) -> str | None:
    if len(raw) > _MAX_INPUT_LENGTH:
        return None
    shape = _SHAPE.fullmatch(raw.translate(_STRIP))
    if shape is None:
        return None
    international, digits = shape.groups()
    if international is None and region is not None:
        national = _national(digits, region)
        if national is not None:
            return national
    return _international(digits)


# parse spends most of its time re-normalising text that is already bare
# digits (docs/performance.md, Phone numbers): the readers below reproduce it
# for bare digits from the library's own metadata, and hand anything without
# metadata to parse itself.


def _international(digits: str) -> str | None:
    """Read `digits` as country code and national number, as parse("+" + digits)."""
    if len(digits) <= _MIN_NSN_LENGTH or digits[0] == "0":
        return None
    for size in range(1, _MAX_COUNTRY_CODE_LENGTH + 1):
        country_code = int(digits[:size])
        if country_code in phonenumbers.COUNTRY_CODE_TO_REGION_CODE:
            break
    else:
        return None
    plan = _country(country_code)
    if plan is None:
        return _parsed("+" + digits, None)
    return _significant(digits[size:], plan, plan)


def _national(digits: str, region: str) -> str | None:
    """Read `digits` dialled in `region`, as parse(digits, region) does."""
    plan = _region_plan(region)
    country = None if plan is None else _country(plan.country_code)
    if plan is None or country is None:
        return _parsed(digits, region)
    if len(digits) < _MIN_NSN_LENGTH:
        return None
    if plan.international_prefix is not None:
        idd = plan.international_prefix.match(digits)
        if idd is not None:
            rest = digits[idd.end() :]
            if not rest:
                return None
            if rest[0] != "0":  # parse does not take an IDD followed by 0 as one
                return _international(rest)
    if digits.startswith(plan.country_code_text):
        # The region's own country code dialled without +: parse accepts it as
        # such when the digits only make sense, or only fit, without it.
        rest = _strip_national_prefix(digits[len(plan.country_code_text) :], plan)
        fits = plan.general is not None and (
            plan.general.fullmatch(digits) is None
            and plan.general.fullmatch(rest) is not None
        )
        too_long = len(digits) > plan.longest and len(digits) not in plan.local_lengths
        if fits or too_long:
            return _significant(rest, country, country)
    # The region's own metadata strips the trunk prefix, but possibility is
    # judged by the country code's main region (CA numbers as +1, like US).
    return _significant(digits, plan, country)


def _significant(national: str, plan: _Plan, country: _Plan) -> str | None:
    """E.164 for a national number once its trunk prefix is off, if possible."""
    if len(national) < _MIN_NSN_LENGTH:
        return None
    stripped = _strip_national_prefix(national, plan)
    size = len(stripped)
    # parse keeps the prefix when the rest would be too short or only locally
    # diallable, and strips it when the rest is possible or even too long.
    if size not in plan.local_lengths and (size in plan.lengths or size > plan.longest):
        national = stripped
    if not _MIN_NSN_LENGTH <= len(national) <= _MAX_NSN_LENGTH:
        return None
    if len(national) not in country.possible:
        return None
    return f"+{country.country_code}{national}"


def _strip_national_prefix(number: str, plan: _Plan) -> str:
    """The number without its trunk prefix, as phonenumbers strips it."""
    if plan.national_prefix is None or not number:
        return number
    match = plan.national_prefix.match(number)
    if match is None:
        return number
    groups = match.groups()
    if plan.transform is None or not groups or groups[-1] is None:
        stripped = number[match.end() :]
    else:
        stripped = plan.national_prefix.sub(plan.transform, number, count=1)
    if plan.general is not None and plan.general.fullmatch(number) is not None:
        # A number that already fits the plan keeps a "prefix" whose removal
        # would leave something that does not.
        if plan.general.fullmatch(stripped) is None:
            return number
    return stripped


def _parsed(number: str, region: str | None) -> str | None:
    try:
        parsed = phonenumbers.parse(number, region)
    except NumberParseException:
        return None
    if not phonenumbers.is_possible_number(parsed):
        return None
    return phonenumbers.format_number(parsed, _E164)


@dataclass(frozen=True)
class _Plan:
    """What normalising needs from one region's numbering-plan metadata."""

    country_code: int
    country_code_text: str
    international_prefix: re.Pattern[str] | None
    national_prefix: re.Pattern[str] | None
    transform: str | None
    general: re.Pattern[str] | None
    lengths: frozenset[int]
    longest: int
    local_lengths: frozenset[int]
    possible: frozenset[int]


@functools.cache
def _country(country_code: int) -> _Plan | None:
    region = phonenumbers.region_code_for_country_code(country_code)
    return _plan(
        PhoneMetadata.metadata_for_region_or_calling_code(country_code, region)
    )


@functools.cache
def _region_plan(region: str) -> _Plan | None:
    return _plan(PhoneMetadata.metadata_for_region(region))


def _plan(metadata: PhoneMetadata | None) -> _Plan | None:
    if metadata is None or metadata.general_desc is None:
        return None
    general = metadata.general_desc
    if metadata.country_code is None or not general.possible_length:
        return None
    lengths = frozenset(general.possible_length)
    local_lengths = frozenset(general.possible_length_local_only)
    return _Plan(
        country_code=metadata.country_code,
        country_code_text=str(metadata.country_code),
        international_prefix=_compiled(metadata.international_prefix),
        national_prefix=_compiled(metadata.national_prefix_for_parsing),
        transform=metadata.national_prefix_transform_rule or None,
        general=_compiled(general.national_number_pattern),
        lengths=lengths,
        longest=max(lengths),
        local_lengths=local_lengths,
        possible=lengths | local_lengths,
    )


def _compiled(pattern: str | None) -> re.Pattern[str] | None:
    return re.compile(pattern) if pattern else None
