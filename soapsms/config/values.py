"""One converter per kind of setting value: INI file, SOAPSMS_*, options, flags.

Each kind reads the text an operator wrote (`parse`) and re-checks a value a
caller built in code (`check`); both raise ValueError with a reason that
starts with "must …", and `convert` turns it into one ConfigError line
naming where the value came from: `[soapsms] log_level`, `SOAPSMS_BIND`,
`[connector:smsc] window`, `--bind`.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from typing import Generic, TypeVar

from soapsms.domain.retention import parse_retention
from soapsms.errors import ConfigError, ValidationError

T = TypeVar("T")
K = TypeVar("K")
V = TypeVar("V")

_TRUE = frozenset({"1", "true", "yes", "on"})
_FALSE = frozenset({"0", "false", "no", "off"})
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")


class Kind(Generic[T]):
    """How one kind of value is read from text and checked."""

    def parse(self, raw: str) -> T:
        return self.check(raw)  # type: ignore[arg-type]

    def check(self, value: T) -> T:
        return value


def convert(where: str, kind: Kind[T], raw: str) -> T:
    """`raw` read as `kind`; a ConfigError naming `where` when it is not one."""
    try:
        return kind.parse(raw.strip())
    except ValueError as exc:
        raise ConfigError(f"{where} {exc}") from None


def check(where: str, kind: Kind[T], value: T) -> T:
    """A value built in code, checked as `kind` (same errors as `convert`)."""
    try:
        return kind.check(value)
    except ValueError as exc:
        raise ConfigError(f"{where} {exc}") from None


@dataclass(frozen=True)
class Boolean(Kind[bool]):
    """true/false, yes/no, on/off, 1/0 (empty: false)."""

    def parse(self, raw: str) -> bool:
        value = raw.lower()
        if value in _TRUE:
            return True
        if value in _FALSE or value == "":
            return False
        raise ValueError(f"must be true or false, not {raw!r}")

    def check(self, value: bool) -> bool:
        if not isinstance(value, bool):
            raise ValueError(f"must be true or false, not {value!r}")
        return value


@dataclass(frozen=True)
class Integer(Kind[int]):
    """A whole number within [low, high]; `base=0` also takes 0x… and 0o…."""

    low: int | None = None
    high: int | None = None
    base: int = 10

    def parse(self, raw: str) -> int:
        try:
            value = int(raw, self.base)
        except ValueError:
            raise ValueError(f"must be a whole number, not {raw!r}") from None
        return self.check(value)

    def check(self, value: int) -> int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ValueError(f"must be a whole number, not {value!r}")
        _within(value, self.low, self.high)
        return value


@dataclass(frozen=True)
class Number(Kind[float]):
    """A number (seconds, rates) within [low, high]; above `low` if `open_low`."""

    low: float | None = None
    high: float | None = None
    open_low: bool = False

    def parse(self, raw: str) -> float:
        try:
            value = float(raw)
        except ValueError:
            raise ValueError(f"must be a number, not {raw!r}") from None
        return self.check(value)

    def check(self, value: float) -> float:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ValueError(f"must be a number, not {value!r}")
        value = float(value)
        if value != value or value in (float("inf"), float("-inf")):
            raise ValueError(f"must be a finite number, not {value!r}")
        if self.open_low and self.low is not None and value <= self.low:
            raise ValueError(f"must be more than {self.low:g}, not {value:g}")
        _within(value, self.low, self.high)
        return value


def _within(value: float, low: float | None, high: float | None) -> None:
    if low is not None and high is not None and not low <= value <= high:
        raise ValueError(f"must be between {low:g} and {high:g}, not {value:g}")
    if low is not None and value < low:
        raise ValueError(f"must be at least {low:g}, not {value:g}")
    if high is not None and value > high:
        raise ValueError(f"must be at most {high:g}, not {value:g}")


@dataclass(frozen=True)
class Milliseconds(Kind[float]):
    """Milliseconds written, seconds kept: `10` → 0.01."""

    def parse(self, raw: str) -> float:
        return self.check(_MS.parse(raw) / 1000)

    def check(self, value: float) -> float:
        return _SECONDS.check(value)


@dataclass(frozen=True)
class MillisecondRange(Kind[tuple[float, float]]):
    """`500-2000` (or one figure) milliseconds → (0.5, 2.0) seconds."""

    def parse(self, raw: str) -> tuple[float, float]:
        low, _, high = raw.partition("-")
        return self.check((_MS.parse(low) / 1000, _MS.parse(high or low) / 1000))

    def check(self, value: tuple[float, float]) -> tuple[float, float]:
        low, high = (_SECONDS.check(x) for x in value)
        if low > high:
            raise ValueError("must be LOW-HIGH with LOW at most HIGH")
        return low, high


_MS = Number(low=0)
_SECONDS = Number(low=0)


@dataclass(frozen=True)
class Optional(Kind["T | None"], Generic[T]):
    """`kind`, or None when empty."""

    kind: Kind[T]

    def parse(self, raw: str) -> T | None:
        return None if raw == "" else self.kind.parse(raw)

    def check(self, value: T | None) -> T | None:
        return None if value is None else self.kind.check(value)


@dataclass(frozen=True)
class Text(Kind[str]):
    """Any text up to `longest` characters; not empty when `required`."""

    longest: int | None = None
    required: bool = False

    def check(self, value: str) -> str:
        if not isinstance(value, str):
            raise ValueError(f"must be text, not {value!r}")
        if self.required and not value:
            raise ValueError("must be set")
        if self.longest is not None and len(value) > self.longest:
            raise ValueError(f"is longer than {self.longest} characters")
        return value


@dataclass(frozen=True)
class Choice(Kind[str]):
    """One of `choices`, in any case (kept as the choice is written)."""

    choices: tuple[str, ...]

    def parse(self, raw: str) -> str:
        for choice in self.choices:
            if raw.lower() == choice.lower():
                return choice
        return self.check(raw)

    def check(self, value: str) -> str:
        if value not in self.choices:
            shown = ", ".join(c or "empty" for c in self.choices)
            raise ValueError(f"must be one of {shown}, not {value!r}")
        return value


LOG_LEVEL = Choice(LOG_LEVELS)


def split_address(value: str) -> tuple[str, int]:
    """HOST:PORT (or [IPv6]:PORT) → (host, port); ValueError if it is not one."""
    host, sep, port = value.rpartition(":")
    if not sep or not port.isdigit() or int(port) > 65535 or value != value.strip():
        raise ValueError(f"must be HOST:PORT, not {value!r}")
    return host.strip("[]"), int(port)


@dataclass(frozen=True)
class Address(Kind[str]):
    """HOST:PORT (port 0: any free one); also `off` or `unix:PATH` where allowed."""

    off: bool = False
    unix: bool = False

    def check(self, value: str) -> str:
        if (self.off and value == "off") or (
            self.unix and value.startswith("unix:") and len(value) > 5
        ):
            return value
        try:
            split_address(value)
        except ValueError:
            shown = " or ".join(
                ["HOST:PORT"] + ["unix:PATH"] * self.unix + ["off"] * self.off
            )
            raise ValueError(f"must be {shown}, not {value!r}") from None
        return value


@dataclass(frozen=True)
class Url(Kind[str]):
    """A URL with one of `schemes` (`scheme://…`); empty too when `optional`."""

    schemes: tuple[str, ...]
    form: str
    optional: bool = False

    def check(self, value: str) -> str:
        if self.optional and value == "":
            return value
        scheme, sep, rest = value.partition("://")
        if not sep or scheme.lower() not in self.schemes or not rest:
            raise ValueError(f"must be {self.form}, got {value!r}")
        return value


@dataclass(frozen=True)
class Items(Kind[tuple[T, ...]], Generic[T]):
    """A list separated by commas or lines, each item an `item`."""

    item: Kind[T]
    required: bool = False

    def parse(self, raw: str) -> tuple[T, ...]:
        parts = [p.strip() for p in raw.replace("\n", ",").split(",") if p.strip()]
        return self.check(tuple(self.item.parse(p) for p in parts))

    def check(self, value: tuple[T, ...]) -> tuple[T, ...]:
        if isinstance(value, str) or not isinstance(value, tuple | list):
            raise ValueError(f"must be a list, not {value!r}")
        if self.required and not value:
            raise ValueError("must name at least one")
        return tuple(self.item.check(v) for v in value)


@dataclass(frozen=True)
class Network(Kind[str]):
    """An IP network (CIDR) or address."""

    def check(self, value: str) -> str:
        try:
            ipaddress.ip_network(value.strip(), strict=False)
        except ValueError as exc:
            raise ValueError(f"must be networks (CIDR): {exc}") from None
        return value


@dataclass(frozen=True)
class Mailbox(Kind[str]):
    """A user@domain address."""

    def check(self, value: str) -> str:
        local, at, domain = value.rpartition("@")
        if not at or not local or not domain:
            raise ValueError(f"must be user@domain addresses, not {value!r}")
        return value


@dataclass(frozen=True)
class Period(Kind[str]):
    """A retention period (`7y`, `24m`, `730d`; the legal minimum or more)."""

    def check(self, value: str) -> str:
        try:
            parse_retention(value)
        except ValidationError as exc:
            # The domain's reason, less its "retention '1y'" (the key says it).
            raise ValueError(
                exc.message.removeprefix(f"retention {value!r} ")
            ) from None
        return value


@dataclass(frozen=True)
class Pairs(Kind[dict[K, V]], Generic[K, V]):
    """`KEY:VALUE` items separated by commas or lines (a map)."""

    key: Kind[K]
    value: Kind[V]

    def parse(self, raw: str) -> dict[K, V]:
        pairs: dict[K, V] = {}
        for item in raw.replace("\n", ",").split(","):
            if not item.strip():
                continue
            key, sep, value = item.partition(":")
            if not sep or not key.strip():
                raise ValueError(f"entry {item.strip()!r} must be KEY:VALUE")
            try:
                pairs[self.key.parse(key.strip())] = self.value.parse(value.strip())
            except ValueError as exc:
                raise ValueError(f"entry {item.strip()!r}: {exc}") from None
        return pairs

    def check(self, value: dict[K, V]) -> dict[K, V]:
        return {self.key.check(k): self.value.check(v) for k, v in dict(value).items()}
