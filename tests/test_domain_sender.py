"""Sender validation (soapsms.domain.sender)."""

from __future__ import annotations

import pytest

from soapsms import errors
from soapsms.domain.sender import validate_sender


@pytest.mark.parametrize(
    ("sender", "expected"),
    [
        ("Acme", "Acme"),
        ("  Acme  ", "Acme"),
        ("\tACME IT\n", "ACME IT"),
        ("A", "A"),
        ("Acme Co Ltd", "Acme Co Ltd"),  # 11 characters
        ("24x7 Ops", "24x7 Ops"),
        ("ServiceDesk", "ServiceDesk"),
        ("1", "1"),
        ("12345", "12345"),
        ("+17036069996", "+17036069996"),
        ("123456789012345", "123456789012345"),  # 15 digits
        ("+123456789012345", "+123456789012345"),
        ("0044123", "0044123"),
    ],
)
def test_valid_senders(sender: str, expected: str) -> None:
    assert validate_sender(sender) == expected


@pytest.mark.parametrize(
    ("sender", "reason"),
    [
        ("", "empty"),
        ("   ", "empty"),
        ("Acme Co Ltd1", "at most 11"),
        ("ServiceDesk1", "at most 11"),
        ("1234567890123456", "at most 15"),
        ("+1234567890123456", "at most 15"),
        ("ACME-IT", "'-'"),
        ("Acme.com", "'.'"),
        ("Ärzte", "'Ä'"),
        ("Acme_IT", "'_'"),
        ("Acme\tIT", "'\\\\t'"),
        ("+", "'\\+'"),
        ("+Acme", "'\\+'"),
        ("1+2", "'\\+'"),
        ("123 456", "letter"),
        ("+1 703", "'\\+'"),
        ("\u0410cme", "'\u0410'"),  # Cyrillic A, looks like Latin A
    ],
)
def test_invalid_senders(sender: str, reason: str) -> None:
    with pytest.raises(errors.InvalidSender, match=reason):
        validate_sender(sender)
