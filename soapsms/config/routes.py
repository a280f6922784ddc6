"""Carrier connectors and routes: the INI file's [connector:NAME] and [routes]
sections, read and checked with the rest of the settings."""

from __future__ import annotations

import configparser
from dataclasses import dataclass, field

from soapsms.config import values as v
from soapsms.config.connectors import (
    SECTION_KEYS,
    ConnectorSettings,
    SimulatorOptions,
    connector_settings,
)
from soapsms.errors import ConfigError

SIMULATOR = "simulator"
_MAX_BINDS = v.Integer(low=0)


@dataclass(frozen=True)
class ConnectorConfig:
    """One [connector:NAME] section: a carrier route's type and its options.

    `settings` holds the options read and checked by the type
    (soapsms.config.connectors), which is what the connector is built from.
    """

    name: str
    type: str
    options: tuple[tuple[str, str], ...] = ()
    # Binds at once across every node sharing the store (0: no limit).
    max_binds: int = 0
    settings: ConnectorSettings = field(
        default_factory=SimulatorOptions, compare=False, repr=False
    )

    def __post_init__(self) -> None:
        where = f"[connector:{self.name}]"
        if not self.name or not self.type:
            raise ConfigError(f"{where} every [connector:NAME] needs a name and type")
        v.check(f"{where} max_binds", _MAX_BINDS, self.max_binds)
        object.__setattr__(
            self,
            "settings",
            connector_settings(self.name, self.type, dict(self.options), where),
        )


@dataclass(frozen=True)
class Routes:
    """Number prefixes (E.164, with the +; "" is the default route) to the
    ordered connector names that serve them: production first, then contingency.

    Without any configuration there is no route: nothing is sent. The built-in
    simulator, which fakes deliveries, is chosen explicitly (`carrier`).
    """

    connectors: tuple[ConnectorConfig, ...] = ()
    table: tuple[tuple[str, tuple[str, ...]], ...] = ()

    @classmethod
    def simulator(cls) -> Routes:
        """Every number to the built-in simulator (demos and tests)."""
        return cls((ConnectorConfig(SIMULATOR, SIMULATOR),), (("", (SIMULATOR,)),))

    def configured(self) -> bool:
        """Whether any route sends anywhere."""
        return bool(self.table)

    def connectors_for(self, number: str) -> tuple[str, ...]:
        """The connector names for an E.164 number; the longest prefix wins."""
        best: tuple[str, tuple[str, ...]] | None = None
        for prefix, names in self.table:
            longer = best is None or len(prefix) > len(best[0])
            if number.startswith(prefix) and longer:
                best = (prefix, names)
        return best[1] if best is not None else ()


def _route_prefix(key: str, source: str) -> str:
    if key == "default":
        return ""
    digits = key[2:] if key.startswith("00") else key.lstrip("+")
    if not digits.isdigit():
        raise ConfigError(
            f"{source}: [routes] key {key!r} is neither a number prefix nor 'default'"
        )
    return "+" + digits


def _connector(parser: configparser.ConfigParser, section: str) -> ConnectorConfig:
    name = section.split(":", 1)[1].strip()
    raw_binds = parser.get(section, "max_binds", fallback="0")
    return ConnectorConfig(
        name=name,
        type=parser.get(section, "type", fallback="").strip(),
        options=tuple(
            (k, x) for k, x in parser.items(section) if k not in SECTION_KEYS
        ),
        max_binds=v.convert(f"[connector:{name}] max_binds", _MAX_BINDS, raw_binds),
    )


def parse_routes(parser: configparser.ConfigParser, source: str) -> Routes:
    """[connector:NAME] sections (type = smpp | simulator, then the type's
    options) and [routes] (`+1 = primary, contingency`, `default = …`)."""
    try:
        connectors = tuple(
            _connector(parser, section)
            for section in parser.sections()
            if section.startswith("connector:")
        )
    except ConfigError as exc:
        raise ConfigError(f"{source}: {exc.message}") from None
    if not parser.has_section("routes"):
        if connectors:
            raise ConfigError(f"{source}: connectors are defined but no [routes]")
        return Routes()
    known = {c.name for c in connectors} | {SIMULATOR}
    table: dict[str, tuple[str, ...]] = {}
    for key, raw in parser.items("routes"):
        names = tuple(n.strip() for n in raw.split(",") if n.strip())
        unknown = [n for n in names if n not in known]
        if not names or unknown:
            raise ConfigError(
                f"{source}: [routes] {key} names no connector or an unknown one: "
                f"{', '.join(unknown) or '(none)'}"
            )
        prefix = _route_prefix(key, source)
        if prefix in table:
            raise ConfigError(
                f"{source}: [routes] {key} is the prefix {prefix or 'default'} again"
            )
        table[prefix] = names
    if any(SIMULATOR in names for names in table.values()) and SIMULATOR not in {
        c.name for c in connectors
    }:
        connectors += (ConnectorConfig(SIMULATOR, SIMULATOR),)
    return Routes(connectors=connectors, table=tuple(table.items()))
