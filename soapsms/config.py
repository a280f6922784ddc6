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
    log_level: str = "INFO"
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

    def replace(self, **changes: object) -> Settings:
        """A copy with some fields changed (re-validated)."""
        return dataclasses.replace(self, **changes)  # type: ignore[arg-type]


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
    for name, annotation in fields.items():
        override = env.get(f"SOAPSMS_{name.upper()}")
        if override is not None:
            values[name] = _coerce(name, override, annotation)
    return Settings(**values)  # type: ignore[arg-type]
