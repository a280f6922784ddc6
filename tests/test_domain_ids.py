"""Time-ordered ids (soapsms.domain.ids)."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta, timezone

import pytest

from soapsms.domain import ids
from soapsms.domain.ids import id_time, new_id, new_ids

ULID = re.compile(r"[0-7][0-9A-HJKMNP-TV-Z]{25}")


def test_ids_share_one_millisecond_and_keep_order() -> None:
    at = datetime(2024, 5, 1, 12, 0, 0, 123456)
    instant, made = new_ids(1000, at)
    assert instant == datetime(2024, 5, 1, 12, 0, 0, 123000)
    assert instant.tzinfo is None
    assert len(made) == len(set(made)) == 1000
    assert made == sorted(made)
    assert all(ULID.fullmatch(value) for value in made)
    assert {value[:10] for value in made} == {made[0][:10]}
    assert {id_time(value) for value in made} == {instant}


def _value(ulid: str) -> int:
    return sum(
        "0123456789ABCDEFGHJKMNPQRSTVWXYZ".index(char) << (5 * place)
        for place, char in enumerate(reversed(ulid))
    )


def test_consecutive_ids_differ_by_one() -> None:
    _, made = new_ids(3)
    first, second, third = (_value(value) for value in made)
    assert second - first == third - second == 1
    assert _value("01ARYZ6S41TSV4RRFFQ69G5FAV") >> 80 == 1469918176385


def test_known_ulid_time() -> None:
    # the ULID specification's example, 1469918176385 ms after the epoch
    expected = datetime(1970, 1, 1) + timedelta(milliseconds=1469918176385)
    assert id_time("01ARYZ6S41TSV4RRFFQ69G5FAV") == expected
    assert id_time("01aryz6s41tsv4rrffq69g5fav") == expected
    instant, (made,) = new_ids(1, expected)
    assert instant == expected
    assert made.startswith("01ARYZ6S41")


def test_aware_times_are_converted_to_utc() -> None:
    at = datetime(2024, 5, 1, 14, 0, 0, 999999, tzinfo=timezone(timedelta(hours=2)))
    instant, (made,) = new_ids(1, at)
    assert instant == datetime(2024, 5, 1, 12, 0, 0, 999000)
    assert id_time(made) == instant
    assert new_ids(0, instant.replace(tzinfo=UTC))[0] == instant


def test_now_is_the_default() -> None:
    before = datetime.now(UTC).replace(tzinfo=None) - timedelta(milliseconds=1)
    instant, (made,) = new_ids(1)
    after = datetime.now(UTC).replace(tzinfo=None)
    assert before <= instant <= after
    assert id_time(made) == instant
    single = new_id()
    assert ULID.fullmatch(single)
    assert id_time(single) is not None


def test_single_id_at_a_time() -> None:
    at = datetime(2030, 1, 2, 3, 4, 5, 6000)
    assert id_time(new_id(at)) == at


def test_ids_made_later_sort_later() -> None:
    first = new_id(datetime(2024, 1, 1, 0, 0, 0, 1000))
    second = new_id(datetime(2024, 1, 1, 0, 0, 0, 2000))
    assert first < second


def test_random_part_has_headroom(monkeypatch: pytest.MonkeyPatch) -> None:
    # the largest start the generator may draw still leaves room for every id
    monkeypatch.setattr(ids.secrets, "randbelow", lambda limit: limit - 1)
    _, made = new_ids(5, datetime(2024, 1, 1))
    assert made[-1].endswith("Z" * 16)
    assert made == sorted(made)
    monkeypatch.setattr(ids.secrets, "randbelow", lambda limit: 0)
    _, made = new_ids(2, datetime(2024, 1, 1))
    assert made[0].endswith("0" * 16)
    assert made[1].endswith("0" * 15 + "1")


def test_count_and_range() -> None:
    assert new_ids(0)[1] == []
    with pytest.raises(ValueError):
        new_ids(-1)
    with pytest.raises(ValueError):
        new_ids(1, datetime(1969, 12, 31, 23, 59, 59))
    assert id_time(new_id(datetime(1970, 1, 1))) == datetime(1970, 1, 1)
    assert id_time(new_id(datetime(9999, 12, 31, 23, 59, 59, 999999))) == datetime(
        9999, 12, 31, 23, 59, 59, 999000
    )


@pytest.mark.parametrize(
    "value",
    [
        "",
        "01ARYZ6S41",
        "01ARYZ6S41TSV4RRFFQ69G5FA",  # 25
        "01ARYZ6S41TSV4RRFFQ69G5FAVV",  # 27
        "01ARYZ6S41TSV4RRFFQ69G5FAI",  # I is not Crockford
        "01ARYZ6S41TSV4RRFFQ69G5FAL",
        "01ARYZ6S41TSV4RRFFQ69G5FAO",
        "01ARYZ6S41TSV4RRFFQ69G5FAU",
        "01ARYZ6S41TSV4RRFFQ69G5FA-",
        "01ARYZ6S41TSV4RRFFQ69G5FA\n",
        "8ZZZZZZZZZZZZZZZZZZZZZZZZZ",  # above 128 bits
        "7ZZZZZZZZZZZZZZZZZZZZZZZZZ",  # year 10889, past datetime's range
        "01ARYZ6S41TSV4RRFFQ69G5FA\u212a",  # Kelvin sign, folds to k
        "0123456789abcdefghijklmnop"[::-1],
        "00000000-0000-0000-0000-0000",
    ],
)
def test_id_time_refuses_malformed_ids(value: str) -> None:
    assert id_time(value) is None


def test_interoperates_with_python_ulid() -> None:
    ulid = pytest.importorskip("ulid")
    instant, made = new_ids(3, datetime(2024, 5, 1, 12, 0, 0, 123000))
    for value in made:
        parsed = ulid.ULID.from_str(value)
        assert parsed.datetime.replace(tzinfo=None) == instant
    theirs = ulid.ULID()
    assert id_time(str(theirs)) == theirs.datetime.replace(tzinfo=None)
