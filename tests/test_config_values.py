"""Each kind of setting value, read from text: what it takes and what it refuses.

One converter per kind serves the INI file, SOAPSMS_* variables, connector
options and command-line flags alike, so this table is theirs too."""

from __future__ import annotations

from typing import Any

import pytest

from soapsms.config import values as v
from soapsms.errors import ConfigError

# (kind, text, the value read)
GOOD: list[tuple[v.Kind[Any], str, Any]] = [
    (v.Boolean(), "yes", True),
    (v.Boolean(), "Off", False),
    (v.Boolean(), "", False),
    (v.Integer(low=1), "3", 3),
    (v.Integer(0, 255, base=0), "0x10", 16),
    (v.Number(0.5, 300), "0.5", 0.5),
    (v.Number(0, open_low=True), "1e-3", 0.001),
    (v.Optional(v.Integer()), "", None),
    (v.Text(8), "12345678", "12345678"),
    (v.Choice(("text", "json")), "JSON", "json"),
    (v.LOG_LEVEL, "debug", "DEBUG"),
    (v.Address(), "127.0.0.1:0", "127.0.0.1:0"),
    (v.Address(), "[::1]:8000", "[::1]:8000"),
    (v.Address(off=True), "off", "off"),
    (v.Address(unix=True), "unix:/run/soapsms.sock", "unix:/run/soapsms.sock"),
    (v.Url(("http", "https"), "a URL", optional=True), "", ""),
    (v.Url(("sqlite",), "sqlite:///PATH"), "sqlite:///x.db", "sqlite:///x.db"),
    (v.Items(v.Network()), "10.0.0.0/8,\n ::1", ("10.0.0.0/8", "::1")),
    (v.Items(v.Mailbox(), required=True), "a@b, c@d", ("a@b", "c@d")),
    (v.Period(), "24m", "24m"),
    (v.Milliseconds(), "10", 0.01),
    (v.MillisecondRange(), "500-2000", (0.5, 2.0)),
    (v.MillisecondRange(), "20", (0.02, 0.02)),
    (
        v.Pairs(v.Integer(base=0), v.Choice(("A", "B"))),
        "0x58:a,\n1:B",
        {88: "A", 1: "B"},
    ),
]

# (kind, text, what the reason says)
BAD: list[tuple[v.Kind[Any], str, str]] = [
    (v.Boolean(), "maybe", "must be true or false, not 'maybe'"),
    (v.Integer(low=1), "0", "must be at least 1, not 0"),
    (v.Integer(low=1), "two", "must be a whole number, not 'two'"),
    (v.Integer(low=1), "1.5", "must be a whole number"),
    (v.Integer(0, 255, base=0), "256", "must be between 0 and 255, not 256"),
    (v.Integer(high=9), "10", "must be at most 9, not 10"),
    (v.Number(0.5, 300), "0.1", "must be between 0.5 and 300, not 0.1"),
    (v.Number(0, open_low=True), "0", "must be more than 0, not 0"),
    (v.Number(low=0), "-1", "must be at least 0, not -1"),
    (v.Number(low=0), "soon", "must be a number, not 'soon'"),
    (v.Number(low=0), "nan", "must be a finite number"),
    (v.Number(low=0), "inf", "must be a finite number"),
    (v.Optional(v.Integer(0, 7)), "8", "must be between 0 and 7"),
    (v.Text(8), "123456789", "is longer than 8 characters"),
    (v.Text(required=True), "", "must be set"),
    (v.Choice(("text", "json")), "xml", "must be one of text, json, not 'xml'"),
    (v.Choice(("simulator", "")), "pigeon", "must be one of simulator, empty"),
    (v.LOG_LEVEL, "LOUD", "must be one of DEBUG, INFO, WARNING, ERROR, CRITICAL"),
    (v.LOG_LEVEL, "10", "must be one of DEBUG"),
    (v.Address(), "nowhere", "must be HOST:PORT, not 'nowhere'"),
    (v.Address(), "host:http", "must be HOST:PORT"),
    (v.Address(), "host:70000", "must be HOST:PORT"),
    (v.Address(), "off", "must be HOST:PORT, not 'off'"),
    (v.Address(off=True), "of", "must be HOST:PORT or off"),
    (v.Address(unix=True), "unix:", "must be HOST:PORT or unix:PATH"),
    (v.Url(("sqlite",), "sqlite:///PATH"), "mysql://x/y", "must be sqlite:///PATH"),
    (v.Url(("sqlite",), "sqlite:///PATH"), "x.db", "must be sqlite:///PATH"),
    (v.Url(("http", "https"), "http(s)://HOST/…"), "", "must be http(s)://HOST/…"),
    (v.Items(v.Network()), "10.0.0.300/8", "must be networks (CIDR)"),
    (v.Items(v.Mailbox(), required=True), "", "must name at least one"),
    (v.Items(v.Mailbox(), required=True), "sms", "must be user@domain addresses"),
    (v.Period(), "1y", "legal minimum of 2 years"),
    (v.Period(), "forever", "not a duration"),
    (v.Milliseconds(), "-5", "must be at least 0"),
    (v.MillisecondRange(), "2000-500", "LOW at most HIGH"),
    (v.MillisecondRange(), "a-b", "must be a number"),
    (v.Pairs(v.Integer(), v.Choice(("A",))), "1=A", "entry '1=A' must be KEY:VALUE"),
    (v.Pairs(v.Integer(), v.Choice(("A",))), "x:A", "entry 'x:A': must be a whole"),
    (v.Pairs(v.Integer(), v.Choice(("A",))), "1:C", "entry '1:C': must be one of A"),
]


@pytest.mark.parametrize(("kind", "text", "value"), GOOD, ids=[g[1] for g in GOOD])
def test_each_kind_reads_its_text(kind: v.Kind[Any], text: str, value: Any) -> None:
    assert v.convert("key", kind, text) == value
    # A value built in code passes the same checks.
    assert kind.check(value) == value


@pytest.mark.parametrize(("kind", "text", "says"), BAD, ids=[b[1] for b in BAD])
def test_each_kind_refuses_with_one_line_naming_the_key(
    kind: v.Kind[Any], text: str, says: str
) -> None:
    with pytest.raises(ConfigError) as caught:
        v.convert("[soapsms] some_key", kind, text)
    message = caught.value.message
    assert message.startswith("[soapsms] some_key "), message
    assert says in message and "\n" not in message, message


@pytest.mark.parametrize(
    ("kind", "value"),
    [
        (v.Integer(low=1), 0),
        (v.Integer(), True),
        (v.Integer(), "3"),
        (v.Number(low=0), -0.5),
        (v.Boolean(), "yes"),
        (v.Items(v.Network()), "10.0.0.0/8"),
        (v.Choice(("a",)), "A"),
    ],
)
def test_values_built_in_code_are_checked_too(kind: v.Kind[Any], value: Any) -> None:
    with pytest.raises(ConfigError, match="^workers "):
        v.check("workers", kind, value)
