"""SMPP 3.4 command_status values mapped to the contract's reason codes."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType

from soapsms.config.connectors import err_key
from soapsms.domain import status

__all__ = ["DEFAULT_STATUS_MAP", "Outcome", "carrier_error", "err_key", "outcome"]


@dataclass(frozen=True)
class Outcome:
    """What a failed submit_sm_resp means to the dispatcher."""

    error_code: str
    retry: bool


# Temporary: the same message may pass later, here or on another route.
_RETRY = frozenset({status.THROTTLED, status.NETWORK_ERROR})

# SMPP 3.4 section 5.1.3. Anything not listed is a permanent CARRIER_REJECTED.
DEFAULT_STATUS_MAP: Mapping[int, str] = MappingProxyType(
    {
        0x04: status.NETWORK_ERROR,  # ESME_RINVBNDSTS: our session, not the message
        0x08: status.NETWORK_ERROR,  # ESME_RSYSERR: "carrier system error"
        # ESME_RINVDSTADR: the carrier does not know the number; the customer
        # can act on "number not in service", not on "carrier rejected".
        0x0B: status.UNKNOWN_SUBSCRIBER,
        0x14: status.THROTTLED,  # ESME_RMSGQFUL
        0x45: status.CARRIER_REJECTED,  # ESME_RSUBMITFAIL
        # ESME_RINVDSTTON / ESME_RINVDSTNPI: this route cannot address the
        # number as we wrote it; the contingency route may.
        0x50: status.ROUTING_ERROR,
        0x51: status.ROUTING_ERROR,
        0x58: status.THROTTLED,  # ESME_RTHROTTLED
        0x64: status.NETWORK_ERROR,  # ESME_RX_T_APPN: temporary at the far end
    }
)


def outcome(command_status: int, overrides: Mapping[int, str]) -> Outcome:
    """The reason code and retry flag for a non-zero command_status.

    `overrides` (a route's `status_map` option) wins over the defaults, so a
    carrier's vendor codes (0x400..0x4FF) can say ROUTING_ERROR or THROTTLED.
    ROUTING_ERROR is not retried on this route: the dispatcher tries the
    contingency route before it rejects the message.
    """
    code = overrides.get(command_status) or DEFAULT_STATUS_MAP.get(
        command_status, status.CARRIER_REJECTED
    )
    return Outcome(code, code in _RETRY)


def carrier_error(command_status: int) -> str:
    """The raw code as CarrierError keeps it."""
    return f"command_status=0x{command_status:08X}"
