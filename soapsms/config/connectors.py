"""The options of each connector type ([connector:NAME] type = smpp | simulator):
names, kinds and defaults, read and checked when the settings are loaded.

The connectors (soapsms.dispatch.connectors.<type>) get these frozen values,
already checked; this module knows nothing of how they are used.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from datetime import timedelta, timezone
from typing import Any, TypeVar

from soapsms.config import values as v
from soapsms.domain import status
from soapsms.errors import ConfigError

ID_FORMATS = ("text", "hex", "decimal")
VALIDITY_FORMATS = ("absolute", "relative", "none")
# A reason code, as the contract's ErrorCode names them.
_REASON = v.Choice(tuple(sorted(status.ERROR_CODES)))
_SMPP_INT = v.Integer(base=0)  # SMPP values are often written in hex
_OCTET = v.Integer(0, 255, base=0)

T = TypeVar("T")


def _option(default: Any, kind: v.Kind[Any], name: str = "") -> Any:
    """A connector option: its default, its kind, its INI name if not the field's."""
    metadata = {"kind": kind, "option": name}
    if isinstance(default, dict):
        return field(default_factory=dict, metadata=metadata)
    return field(default=default, metadata=metadata)


def err_key(err: str) -> str:
    """A receipt `err:` value as a route's map keys it (numbers without zeros)."""
    value = err.strip().upper()
    return str(int(value)) if value.isdigit() else value


@dataclass(frozen=True)
class _ErrKey(v.Kind[str]):
    def check(self, value: str) -> str:
        if not value.strip():
            raise ValueError("must not be empty")
        return err_key(value)


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

    host: str = _option("", v.Text())  # required, checked below
    # SMPP 3.4 C-octet strings, NUL included; smpplib would cut them silently.
    system_id: str = _option("", v.Text(15))
    port: int = _option(2775, v.Integer(1, 65535, base=0))
    password: str = _option("", v.Text(8))
    system_type: str = _option("", v.Text(12))
    service_type: str = _option("", v.Text())
    window: int = _option(10, v.Integer(low=1, base=0))  # outstanding submit_sm
    # submit_sm PDUs per second; 0 means no limit
    mps: float = _option(0.0, v.Number(low=0))
    enquire_link_seconds: float = _option(30.0, v.Number(0, open_low=True))
    # for submit_sm_resp and enquire_link_resp
    response_timeout_seconds: float = _option(10.0, v.Number(0, open_low=True))
    connect_timeout_seconds: float = _option(10.0, v.Number(0, open_low=True))
    # Flow control (ESME_RTHROTTLED, ESME_RMSGQFUL, codes mapped to THROTTLED):
    # the window halves and sending pauses, doubling from the first pause to
    # the longest; a PDU is resent until this long after its first sending.
    throttle_pause_seconds: float = _option(0.2, v.Number(0, open_low=True))
    throttle_pause_max_seconds: float = _option(5.0, v.Number(0, open_low=True))
    throttle_give_up_seconds: float = _option(120.0, v.Number(low=0))
    reconnect_min_seconds: float = _option(1.0, v.Number(low=0))
    reconnect_max_seconds: float = _option(60.0, v.Number(low=0))
    submit_id_format: str = _option("text", v.Choice(ID_FORMATS))
    # empty: as submit_id_format
    receipt_id_format: str = _option("", v.Choice(("", *ID_FORMATS)))
    use_message_payload: bool = _option(False, v.Boolean())
    source_addr: str = _option("", v.Text())  # sender when the message names none
    # None: from the sender's form
    source_ton: int | None = _option(None, v.Optional(_OCTET))
    source_npi: int | None = _option(None, v.Optional(_OCTET))
    dest_ton: int = _option(1, _OCTET)  # international: recipients are E.164
    dest_npi: int = _option(1, _OCTET)  # ISDN (E.164)
    # how expires_at is written in validity_period
    validity: str = _option("absolute", v.Choice(VALIDITY_FORMATS))
    # the SMSC's clock in receipt dates
    receipt_utc_offset_minutes: int = _option(0, v.Integer(-1440, 1440, base=0))
    # command_status values to reason codes, over soapsms's defaults.
    status_map: Mapping[int, str] = _option({}, v.Pairs(_SMPP_INT, _REASON))
    # UNDELIV receipts' `err:` values to reason codes (the contract: "from
    # err: where the route maps it, else UNKNOWN").
    receipt_err_map: Mapping[str, str] = _option({}, v.Pairs(_ErrKey(), _REASON))

    def __post_init__(self) -> None:
        if not self.host or not self.system_id:
            raise ConfigError("an smpp connector needs host and system_id")
        _check_fields(self, "smpp")
        if not self.throttle_pause_seconds <= self.throttle_pause_max_seconds:
            raise ConfigError(
                "throttle_pause_seconds must be at most throttle_pause_max_seconds"
            )
        if not self.receipt_id_format:
            object.__setattr__(self, "receipt_id_format", self.submit_id_format)
        if (self.submit_id_format == "text") != (self.receipt_id_format == "text"):
            raise ConfigError(
                "submit_id_format and receipt_id_format must both be text, or both"
                " hex/decimal: a text id never equals a number"
            )

    @property
    def receipt_tz(self) -> timezone:
        return timezone(timedelta(minutes=self.receipt_utc_offset_minutes))

    @classmethod
    def from_options(cls, options: Mapping[str, str], where: str = "") -> SmppConfig:
        """Build from INI strings; unknown keys are refused (a typo is not silent)."""
        return read_options(cls, "smpp", options, where)


@dataclass(frozen=True)
class SimulatorOptions:
    """The built-in simulator's options (soapsms.dispatch.connectors.simulator)."""

    # time to the submission's answer
    submit_latency: float = _option(0.010, v.Milliseconds(), "submit_latency_ms")
    # receipts come this long after (a range)
    receipt_delay: tuple[float, float] = _option(
        (0.5, 2.0), v.MillisecondRange(), "receipt_delay_ms"
    )
    rejected_rate: float = _option(0.01, v.Number(0, 1))  # refused at submission
    undelivered_rate: float = _option(0.02, v.Number(0, 1))  # UNDELIV receipts
    seed: int | None = _option(None, v.Optional(v.Integer()))  # repeatable outcomes
    window: int = _option(10, v.Integer(low=1))  # outstanding submissions
    # a file that gets "<message id> <pid>" per accepted submission (tests)
    journal: str | None = _option(None, v.Optional(v.Text()))

    def __post_init__(self) -> None:
        _check_fields(self, "simulator")

    @classmethod
    def from_options(
        cls, options: Mapping[str, str], where: str = ""
    ) -> SimulatorOptions:
        """Build from INI strings; unknown keys are refused."""
        return read_options(cls, "simulator", options, where)


# Each connector type and its options, by the name `type =` gives.
TYPES: dict[str, type[SmppConfig] | type[SimulatorOptions]] = {
    "smpp": SmppConfig,
    "simulator": SimulatorOptions,
}
ConnectorSettings = SmppConfig | SimulatorOptions
# Keys of a [connector:NAME] section that are the dispatcher's, not the type's.
SECTION_KEYS = ("type", "max_binds")


def _check_fields(options: object, kind: str) -> None:
    for f in fields(options):  # type: ignore[arg-type]
        value = v.check(
            f"{kind} {f.metadata['option'] or f.name}",
            f.metadata["kind"],
            getattr(options, f.name),
        )
        object.__setattr__(options, f.name, value)


def read_options(cls: type[T], kind: str, options: Mapping[str, str], where: str) -> T:
    """`cls` from a section's INI strings, each read as its option's kind."""
    by_option = {f.metadata["option"] or f.name: f for f in fields(cls)}  # type: ignore[arg-type]
    values: dict[str, Any] = {}
    prefix = f"{where} " if where else f"{kind} "
    for key, raw in options.items():
        name = key.strip().lower()
        if name in SECTION_KEYS:
            continue
        if name not in by_option:
            raise ConfigError(f"{where or kind}: unknown {kind} option {key!r}")
        f = by_option[name]
        values[f.name] = v.convert(prefix + name, f.metadata["kind"], str(raw))
    return cls(**values)


def connector_settings(
    name: str, kind: str, options: Mapping[str, str], where: str
) -> ConnectorSettings:
    """A [connector:NAME] section's options, read and checked by its type."""
    if kind not in TYPES:
        raise ConfigError(
            f"{where} type must be one of {', '.join(sorted(TYPES))}, not {kind!r}"
        )
    return TYPES[kind].from_options(options, where)
