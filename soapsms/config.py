"""Frozen settings: an optional INI file, then SOAPSMS_* environment overrides."""

from __future__ import annotations

import configparser
import dataclasses
import ipaddress
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from soapsms.errors import ConfigError

DEFAULT_DATABASE_URL = "sqlite:///soapsms.db"


@dataclass(frozen=True)
class Settings:
    """Everything the gateway reads from its environment, validated once."""

    database_url: str = DEFAULT_DATABASE_URL
    bind: str = "127.0.0.1:8000"
    workers: int = 2
    # The URL clients should use, e.g. https://sms.example.com; when empty the
    # WSDL points at whatever URL the client used.
    public_url: str = ""
    # Networks of reverse proxies whose X-Forwarded-* headers we believe.
    trusted_proxies: tuple[str, ...] = ()
    max_body_bytes: int = 5 * 1024 * 1024
    max_xml_depth: int = 24
    credential_cache_seconds: float = 60.0
    # Failed logins allowed per source address and per account in a window.
    login_failures_per_window: int = 10
    login_failure_window_seconds: float = 60.0
    argon2_time_cost: int = 2
    argon2_memory_kib: int = 19456
    argon2_parallelism: int = 1
    default_validity_minutes: int = 2880
    allow_private_callbacks: bool = False
    # SMTP ingress (e-mail to SMS): where it listens ("off": `soapsms serve`
    # leaves it out) and the addresses it takes mail for; anything else is
    # refused at RCPT, so it is never an open relay.
    smtp_bind: str = "127.0.0.1:2525"
    smtp_address: tuple[str, ...] = ("email@localhost",)
    smtp_max_message_bytes: int = 2 * 1024 * 1024
    # Mails a minute on one connection and for one account (0: no limit); past
    # them the answer is 451, so the sending server retries later.
    smtp_rate_per_connection: int = 60
    smtp_rate_per_account: int = 120
    # STARTTLS is offered when both PEM files are set (the body carries a
    # password); smtp_require_tls refuses mail before it.
    smtp_tls_cert: str = ""
    smtp_tls_key: str = ""
    smtp_require_tls: bool = False
    # Confirmation/error mails to the envelope sender: off, errors or all, sent
    # through the relay HOST:PORT from smtp_reply_from (empty: first address).
    smtp_replies: str = "off"
    smtp_reply_relay: str = "127.0.0.1:25"
    smtp_reply_from: str = ""
    log_level: str = "INFO"
    # Message texts appear in the logs (DEBUG) only when this is switched on,
    # for a debugging session; passwords never do.
    log_message_text: bool = False
    # How long message data is kept: `soapsms purge` without --older-than
    # uses it (Ny, Nm or Nd; never under the legal minimum of 2 years).
    retention: str = "7y"
    # Where `soapsms dispatch` serves its Prometheus metrics (HOST:PORT), or off.
    dispatch_metrics_bind: str = "off"
    # Dispatcher: how long a claimed message stays leased (renewed while in
    # flight; after a crash it is taken up again this long later), and how
    # many messages one claim takes.
    dispatch_lease_seconds: float = 60.0
    dispatch_batch_size: int = 200
    # Carrier connectors and routes: the [connector:NAME] and [routes]
    # sections of the INI file (not environment variables).
    routes: Routes = field(default_factory=lambda: Routes(), compare=False)
    trusted_networks: tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...] = field(
        default=(), compare=False, repr=False
    )

    def __post_init__(self) -> None:
        try:
            nets = tuple(
                ipaddress.ip_network(p.strip(), strict=False)
                for p in self.trusted_proxies
                if p.strip()
            )
        except ValueError as exc:
            raise ConfigError(f"trusted_proxies: {exc}") from exc
        object.__setattr__(self, "trusted_networks", nets)
        if self.workers < 1:
            raise ConfigError("workers must be at least 1")
        if self.max_body_bytes < 1024:
            raise ConfigError("max_body_bytes must be at least 1024")
        if self.max_xml_depth < 8:
            raise ConfigError("max_xml_depth must be at least 8")
        if ":" not in self.bind:
            raise ConfigError(f"bind must be HOST:PORT, got {self.bind!r}")
        _check_smtp(self)

    def replace(self, **changes: object) -> Settings:
        """A copy with some fields changed (re-validated)."""
        return dataclasses.replace(self, **changes)  # type: ignore[arg-type]


def _check_smtp(settings: Settings) -> None:
    """The smtp_* settings, checked with the rest at start-up."""
    if settings.smtp_bind != "off" and ":" not in settings.smtp_bind:
        raise ConfigError(
            f"smtp_bind must be HOST:PORT or off, got {settings.smtp_bind!r}"
        )
    if not settings.smtp_address or any(
        "@" not in address for address in settings.smtp_address
    ):
        raise ConfigError("smtp_address must be one or more user@domain addresses")
    if settings.smtp_max_message_bytes < 1024:
        raise ConfigError("smtp_max_message_bytes must be at least 1024")
    if settings.smtp_rate_per_connection < 0 or settings.smtp_rate_per_account < 0:
        raise ConfigError("smtp_rate_per_connection/_account must be 0 or more")
    if bool(settings.smtp_tls_cert) != bool(settings.smtp_tls_key):
        raise ConfigError("smtp_tls_cert and smtp_tls_key go together")
    if settings.smtp_require_tls and not settings.smtp_tls_cert:
        raise ConfigError("smtp_require_tls needs smtp_tls_cert and smtp_tls_key")
    if settings.smtp_replies not in ("off", "errors", "all"):
        raise ConfigError("smtp_replies must be off, errors or all")
    if ":" not in settings.smtp_reply_relay:
        raise ConfigError("smtp_reply_relay must be HOST:PORT")


_SECTION = "soapsms"


def _coerce(name: str, raw: str, annotation: str) -> object:
    try:
        if annotation == "int":
            return int(raw)
        if annotation == "float":
            return float(raw)
        if annotation == "bool":
            value = raw.strip().lower()
            if value in ("1", "true", "yes", "on"):
                return True
            if value in ("0", "false", "no", "off", ""):
                return False
            raise ValueError(f"not a boolean: {raw!r}")
        if annotation.startswith("tuple"):
            return tuple(
                p.strip() for p in raw.replace("\n", ",").split(",") if p.strip()
            )
    except ValueError as exc:
        raise ConfigError(f"{name}: {exc}") from exc
    return raw


def load_settings(
    path: str | Path | None = None, environ: Mapping[str, str] | None = None
) -> Settings:
    """Read the INI file (section [soapsms]) if any, then SOAPSMS_<FIELD> variables.

    The file is SOAPSMS_CONFIG when no path is given. Unknown keys are errors,
    so a typo never silently leaves a default in force.
    """
    env = os.environ if environ is None else environ
    values: dict[str, object] = {}
    fields = {
        f.name: str(f.type)
        for f in dataclasses.fields(Settings)
        if f.init and f.compare
    }
    path = path or env.get("SOAPSMS_CONFIG") or None
    if path:
        parser = configparser.ConfigParser()
        if not parser.read(path):
            raise ConfigError(f"cannot read config file {path}")
        if parser.has_section(_SECTION):
            for key, raw in parser.items(_SECTION):
                if key not in fields:
                    raise ConfigError(f"{path}: unknown setting {key!r}")
                values[key] = _coerce(key, raw, fields[key])
        values["routes"] = parse_routes(parser, str(path))
    for name, annotation in fields.items():
        override = env.get(f"SOAPSMS_{name.upper()}")
        if override is not None:
            values[name] = _coerce(name, override, annotation)
    return Settings(**values)  # type: ignore[arg-type]


# --- carrier connectors and routes -------------------------------------------

SIMULATOR = "simulator"


@dataclass(frozen=True)
class ConnectorConfig:
    """One [connector:NAME] section: a carrier route's type and its options."""

    name: str
    type: str
    options: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class Routes:
    """Number prefixes (E.164, with the +; "" is the default route) to the
    ordered connector names that serve them: production first, then contingency.

    Without any configuration everything goes to a built-in simulator, so a
    demo gateway delivers.
    """

    connectors: tuple[ConnectorConfig, ...] = (ConnectorConfig(SIMULATOR, SIMULATOR),)
    table: tuple[tuple[str, tuple[str, ...]], ...] = (("", (SIMULATOR,)),)

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


def parse_routes(parser: configparser.ConfigParser, source: str) -> Routes:
    """[connector:NAME] sections (type = smpp | simulator | …, then the type's
    options) and [routes] (`+1 = primary, contingency`, `default = …`)."""
    connectors = tuple(
        ConnectorConfig(
            name=section.split(":", 1)[1].strip(),
            type=parser.get(section, "type", fallback="").strip(),
            options=tuple((k, v) for k, v in parser.items(section) if k != "type"),
        )
        for section in parser.sections()
        if section.startswith("connector:")
    )
    for connector in connectors:
        if not connector.name or not connector.type:
            raise ConfigError(f"{source}: every [connector:NAME] needs a name and type")
    if not parser.has_section("routes"):
        if connectors:
            raise ConfigError(f"{source}: connectors are defined but no [routes]")
        return Routes()
    known = {c.name for c in connectors} | {SIMULATOR}
    table = []
    for key, raw in parser.items("routes"):
        names = tuple(n.strip() for n in raw.split(",") if n.strip())
        unknown = [n for n in names if n not in known]
        if not names or unknown:
            raise ConfigError(
                f"{source}: route {key!r} names no connector or an unknown one: "
                f"{', '.join(unknown) or '(none)'}"
            )
        table.append((_route_prefix(key, source), names))
    if any(SIMULATOR in names for _, names in table) and SIMULATOR not in {
        c.name for c in connectors
    }:
        connectors += (ConnectorConfig(SIMULATOR, SIMULATOR),)
    return Routes(connectors=connectors, table=tuple(table))
