"""Settings of one SMPP route, read from its `[connector:NAME] type=smpp` section."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from datetime import timedelta, timezone
from typing import Any

from soapsms.dispatch.connectors.smpp_codes import parse_err_map, parse_status_map
from soapsms.errors import ConfigError

ID_FORMATS = ("text", "hex", "decimal")
VALIDITY_FORMATS = ("absolute", "relative", "none")
_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}
# Keys the dispatcher's section carries for itself, not for us.
_IGNORED = {"type"}


@dataclass(frozen=True)
class SmppConfig:
    """One route's SMPP settings. Every field is an INI option of the same name.

    Ids: `submit_id_format` says how the carrier writes the submit_sm_resp
    message_id (and the `receipted_message_id` TLV, which SMPP 3.4 defines as
    that same id); `receipt_id_format` how it writes the `id:` of the receipt
    text (default: the same). `text` keeps ids as they come; `hex`/`decimal`
    read them as numbers and both sides are written as canonical decimal, so
    "0000A1" and "161" compare equal.
    """

    host: str = ""  # required, checked below with the other rules
    system_id: str = ""
    port: int = 2775
    password: str = ""
    system_type: str = ""
    service_type: str = ""
    window: int = 10  # outstanding submit_sm PDUs
    mps: float = 0.0  # submit_sm PDUs per second; 0 means no limit
    enquire_link_seconds: float = 30.0
    response_timeout_seconds: float = 10.0  # for submit_sm_resp and enquire_link_resp
    connect_timeout_seconds: float = 10.0
    reconnect_min_seconds: float = 1.0
    reconnect_max_seconds: float = 60.0
    submit_id_format: str = "text"
    receipt_id_format: str = ""  # empty: as submit_id_format
    use_message_payload: bool = False
    source_addr: str = ""  # sender when the message names none
    source_ton: int | None = None  # None: from the sender's form
    source_npi: int | None = None
    dest_ton: int = 1  # international: recipients are E.164
    dest_npi: int = 1  # ISDN (E.164)
    validity: str = "absolute"  # how expires_at is written in validity_period
    receipt_utc_offset_minutes: int = 0  # the SMSC's clock in receipt dates
    status_map: Mapping[int, str] = field(default_factory=dict)
    # UNDELIV receipts' `err:` values to reason codes (the contract: "from
    # err: where the route maps it, else UNKNOWN").
    receipt_err_map: Mapping[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not self.host or not self.system_id:
            raise ConfigError("an smpp connector needs host and system_id")
        # SMPP 3.4 C-octet strings, NUL included; smpplib would cut them silently.
        for name, limit in (("system_id", 15), ("password", 8), ("system_type", 12)):
            if len(getattr(self, name)) > limit:
                raise ConfigError(f"{name} is longer than SMPP's {limit} characters")
        if self.window < 1:
            raise ConfigError("window must be at least 1")
        if self.mps < 0:
            raise ConfigError("mps must be 0 (no limit) or more")
        for name in ("submit_id_format", "receipt_id_format"):
            value = getattr(self, name)
            if value and value not in ID_FORMATS:
                raise ConfigError(f"{name} must be one of {', '.join(ID_FORMATS)}")
        if not self.receipt_id_format:
            object.__setattr__(self, "receipt_id_format", self.submit_id_format)
        if (self.submit_id_format == "text") != (self.receipt_id_format == "text"):
            raise ConfigError(
                "submit_id_format and receipt_id_format must both be text, or both"
                " hex/decimal: a text id never equals a number"
            )
        if self.validity not in VALIDITY_FORMATS:
            raise ConfigError(f"validity must be one of {', '.join(VALIDITY_FORMATS)}")

    @property
    def receipt_tz(self) -> timezone:
        return timezone(timedelta(minutes=self.receipt_utc_offset_minutes))

    @classmethod
    def from_options(cls, options: Mapping[str, str]) -> SmppConfig:
        """Build from INI strings; unknown keys are refused (a typo is not silent)."""
        known = {f.name: f for f in fields(cls)}
        values: dict[str, Any] = {}
        for key, raw in options.items():
            name = key.strip().lower()
            if name in _IGNORED:
                continue
            if name not in known:
                raise ConfigError(f"unknown smpp option {key!r}")
            values[name] = _convert(name, str(known[name].type), raw.strip())
        return cls(**values)


def _convert(name: str, kind: str, raw: str) -> Any:
    if name == "status_map":
        return parse_status_map(raw)
    if name == "receipt_err_map":
        return parse_err_map(raw)
    if kind == "bool":
        if raw.lower() in _TRUE:
            return True
        if raw.lower() in _FALSE:
            return False
        raise ConfigError(f"{name} must be true or false, not {raw!r}")
    try:
        if kind.startswith("int"):
            return None if raw == "" else int(raw, 0)
        if kind == "float":
            return float(raw)
    except ValueError:
        raise ConfigError(f"{name} must be a number, not {raw!r}") from None
    if name.endswith("_format") or name == "validity":
        return raw.lower()
    return raw
