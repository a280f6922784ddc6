"""Frozen settings: an optional INI file, then SOAPSMS_* environment overrides,
every value read by its kind's converter (soapsms.config.values) and checked
at load, connector and route sections included."""

from __future__ import annotations

import configparser
import dataclasses
import ipaddress
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from soapsms.config import values as v
from soapsms.config.routes import (
    SIMULATOR,
    ConnectorConfig,
    Routes,
    parse_routes,
)
from soapsms.errors import ConfigError

__all__ = [
    "SIMULATOR",
    "ConnectorConfig",
    "Routes",
    "Settings",
    "load_settings",
    "parse_routes",
    "read_flag",
    "split_address",
    "unknown_variables",
]

DEFAULT_DATABASE_URL = "sqlite:///soapsms.db"
# The schemes SQLAlchemy is given; anything else would fail deep in a driver.
_DATABASE = v.Url(
    ("sqlite", "postgresql", "postgres", "postgresql+psycopg"),
    "sqlite:///PATH or postgresql://USER@HOST:PORT/DB",
)


def _setting(default: Any, kind: v.Kind[Any]) -> Any:
    """A Settings field with its default and the kind its values are read as."""
    return field(default=default, metadata={"kind": kind})


def split_address(value: str) -> tuple[str, int]:
    """HOST:PORT (or [IPv6]:PORT) → (host, port), for the listeners."""
    try:
        return v.split_address(value)
    except ValueError as exc:
        raise ConfigError(f"address {exc}") from None


@dataclass(frozen=True)
class Settings:
    """Everything the gateway reads from its environment, validated once.

    Each field is a setting of the same name, with its default and the kind
    of value it takes (one converter per kind, soapsms.config.values).
    """

    database_url: str = _setting(DEFAULT_DATABASE_URL, _DATABASE)
    bind: str = _setting("127.0.0.1:8000", v.Address(unix=True))
    workers: int = _setting(2, v.Integer(low=1))
    # The URL clients should use, e.g. https://sms.example.com; when empty the
    # WSDL points at whatever URL the client used.
    public_url: str = _setting(
        "", v.Url(("http", "https"), "http(s)://HOST/… or empty", optional=True)
    )
    # Networks of reverse proxies whose X-Forwarded-* headers we believe.
    trusted_proxies: tuple[str, ...] = _setting((), v.Items(v.Network()))
    max_body_bytes: int = _setting(5 * 1024 * 1024, v.Integer(low=1024))
    max_xml_depth: int = _setting(24, v.Integer(low=8))
    credential_cache_seconds: float = _setting(60.0, v.Number(low=0))
    # Failed logins allowed per source address and per account in a window.
    login_failures_per_window: int = _setting(10, v.Integer(low=1))
    login_failure_window_seconds: float = _setting(60.0, v.Number(low=0))
    argon2_time_cost: int = _setting(2, v.Integer(low=1))
    argon2_memory_kib: int = _setting(19456, v.Integer(low=8))
    argon2_parallelism: int = _setting(1, v.Integer(low=1))
    default_validity_minutes: int = _setting(2880, v.Integer(low=1))
    allow_private_callbacks: bool = _setting(False, v.Boolean())
    # SMTP ingress (e-mail to SMS): where it listens ("off": `soapsms serve`
    # leaves it out) and the addresses it takes mail for; anything else is
    # refused at RCPT, so it is never an open relay.
    smtp_bind: str = _setting("127.0.0.1:2525", v.Address(off=True))
    smtp_address: tuple[str, ...] = _setting(
        ("email@localhost",), v.Items(v.Mailbox(), required=True)
    )
    smtp_max_message_bytes: int = _setting(2 * 1024 * 1024, v.Integer(low=1024))
    # Mails a minute on one connection and for one account (0: no limit); past
    # them the answer is 451, so the sending server retries later.
    smtp_rate_per_connection: int = _setting(60, v.Integer(low=0))
    smtp_rate_per_account: int = _setting(120, v.Integer(low=0))
    # STARTTLS is offered when both PEM files are set (the body carries a
    # password); smtp_require_tls refuses mail before it.
    smtp_tls_cert: str = _setting("", v.Text())
    smtp_tls_key: str = _setting("", v.Text())
    smtp_require_tls: bool = _setting(False, v.Boolean())
    # Confirmation/error mails to the envelope sender: off, errors or all, sent
    # through the relay HOST:PORT from smtp_reply_from (empty: first address).
    smtp_replies: str = _setting("off", v.Choice(("off", "errors", "all")))
    smtp_reply_relay: str = _setting("127.0.0.1:25", v.Address())
    smtp_reply_from: str = _setting("", v.Text())
    # SNPP ingress (RFC 1861, paging tools): where it listens ("off": `soapsms
    # serve` leaves it out) and how long a silent session is kept open.
    snpp_bind: str = _setting("127.0.0.1:4444", v.Address(off=True))
    snpp_idle_timeout_seconds: float = _setting(300.0, v.Number(0, open_low=True))
    # SENDs a minute on one connection and for one account (0: no limit), as
    # for SMTP; past them the answer is 554 and the tool tries again later.
    snpp_rate_per_connection: int = _setting(60, v.Integer(low=0))
    snpp_rate_per_account: int = _setting(120, v.Integer(low=0))
    log_level: str = _setting("INFO", v.LOG_LEVEL)
    # text (`TIME LEVEL LOGGER MESSAGE`) or json (one object a line), for
    # every line of every process, gunicorn's access lines included.
    log_format: str = _setting("text", v.Choice(("text", "json")))
    # Message texts appear in the logs (DEBUG) only when this is switched on,
    # for a debugging session; passwords never do.
    log_message_text: bool = _setting(False, v.Boolean())
    # How long message data is kept: `soapsms purge` without --older-than
    # uses it (Ny, Nm or Nd; never under the legal minimum of 2 years).
    retention: str = _setting("7y", v.Period())
    # Where `soapsms dispatch` serves its Prometheus metrics (HOST:PORT), or off.
    dispatch_metrics_bind: str = _setting("off", v.Address(off=True))
    # Dispatcher: how long a claimed message stays leased (renewed while in
    # flight; after a crash it is taken up again this long later), and how
    # many messages one claim takes.
    dispatch_lease_seconds: float = _setting(60.0, v.Number(0, open_low=True))
    dispatch_batch_size: int = _setting(200, v.Integer(low=1))
    # The longest any store operation may take, waits included (connect,
    # pool, locks, a silent server): then it fails as Unavailable.
    store_timeout_seconds: float = _setting(5.0, v.Number(0.5, 300))
    # "simulator": every number goes to the built-in simulator, which fakes
    # deliveries (demos, `make run`); empty: the INI file's [routes] decide,
    # and without them nothing is sent (NO_ROUTE).
    carrier: str = _setting("", v.Choice((SIMULATOR, "")))
    # Carrier connectors and routes: the [connector:NAME] and [routes]
    # sections of the INI file (not environment variables), checked as they
    # are read (soapsms.config.routes).
    routes: Routes = field(default_factory=lambda: Routes(), compare=False)
    trusted_networks: tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...] = field(
        default=(), compare=False, repr=False
    )

    def __post_init__(self) -> None:
        for f in _FIELDS:
            object.__setattr__(
                self, f.name, v.check(f.name, f.metadata["kind"], getattr(self, f.name))
            )
        nets = tuple(
            ipaddress.ip_network(p.strip(), strict=False)
            for p in self.trusted_proxies
            if p.strip()
        )
        object.__setattr__(self, "trusted_networks", nets)
        if self.carrier == SIMULATOR:
            if self.routes.configured() and self.routes != Routes.simulator():
                raise ConfigError(
                    "carrier = simulator and [routes] are both configured; keep one"
                )
            object.__setattr__(self, "routes", Routes.simulator())
        if bool(self.smtp_tls_cert) != bool(self.smtp_tls_key):
            raise ConfigError("smtp_tls_cert and smtp_tls_key go together")
        if self.smtp_require_tls and not self.smtp_tls_cert:
            raise ConfigError("smtp_require_tls needs smtp_tls_cert and smtp_tls_key")

    def replace(self, **changes: object) -> Settings:
        """A copy with some fields changed (re-validated)."""
        return dataclasses.replace(self, **changes)  # type: ignore[arg-type]


# The fields read from the INI file and SOAPSMS_* (not routes, not derived).
_FIELDS = tuple(f for f in dataclasses.fields(Settings) if "kind" in f.metadata)
_SECTION = "soapsms"


def read_flag(flag: str, setting: str, raw: str) -> Any:
    """A command-line flag that stands for a setting, read as that setting's kind
    (`--bind` as bind); a ConfigError naming the flag when it is not one."""
    kinds = {f.name: f.metadata["kind"] for f in _FIELDS}
    return v.convert(flag, kinds[setting], raw)


def load_settings(
    path: str | Path | None = None, environ: Mapping[str, str] | None = None
) -> Settings:
    """Read the INI file (section [soapsms]) if any, then SOAPSMS_<FIELD> variables.

    The file is SOAPSMS_CONFIG when no path is given. Every value is read by
    its kind and every section checked here, so a wrong one is a ConfigError
    naming it before anything starts; unknown keys are errors too, so a typo
    never silently leaves a default in force.
    """
    env = os.environ if environ is None else environ
    values: dict[str, object] = {}
    kinds = {f.name: f.metadata["kind"] for f in _FIELDS}
    path = path or env.get("SOAPSMS_CONFIG") or None
    if path:
        parser = configparser.ConfigParser()
        try:
            if not parser.read(path):
                raise ConfigError(f"cannot read config file {path}")
        except configparser.Error as exc:
            first = str(exc).splitlines()[0]
            raise ConfigError(f"{path} is not an INI file: {first}") from exc
        strange = [
            name
            for name in parser.sections()
            if name not in (_SECTION, "routes") and not name.startswith("connector:")
        ]
        if strange:
            raise ConfigError(
                f"{path}: unknown section [{strange[0]}] (known: [{_SECTION}], "
                "[routes], [connector:NAME])"
            )
        if parser.has_section(_SECTION):
            for key, raw in parser.items(_SECTION):
                if key not in kinds:
                    raise ConfigError(f"{path}: [{_SECTION}] unknown setting {key!r}")
                values[key] = v.convert(f"{path}: [{_SECTION}] {key}", kinds[key], raw)
        values["routes"] = parse_routes(parser, str(path))
    for name, kind in kinds.items():
        override = env.get(f"SOAPSMS_{name.upper()}")
        if override is not None:
            values[name] = v.convert(f"SOAPSMS_{name.upper()}: {name}", kind, override)
    return Settings(**values)  # type: ignore[arg-type]


def unknown_variables(environ: Mapping[str, str] | None = None) -> list[str]:
    """SOAPSMS_* variables that name no setting (typos the gateway would ignore)."""
    env = os.environ if environ is None else environ
    known = {f"SOAPSMS_{f.name.upper()}" for f in dataclasses.fields(Settings)}
    known |= {"SOAPSMS_CONFIG"}
    return sorted(
        name
        for name in env
        if name.startswith("SOAPSMS_")
        and name not in known
        and not name.startswith(_NOT_SETTINGS)
    )


# SOAPSMS_* variables read by others: tests, gunicorn.conf.py.
_NOT_SETTINGS = (
    "SOAPSMS_TEST_",
    "SOAPSMS_REQUIRE",
    "SOAPSMS_GUNICORN_",
    "SOAPSMS_BENCH",
)
