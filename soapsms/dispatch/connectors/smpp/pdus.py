"""The submit_sm fields of a Submission: addresses, coding, validity and parts."""

from __future__ import annotations

import zlib
from datetime import datetime
from typing import Any

from soapsms.dispatch.connectors.base import Submission
from soapsms.dispatch.connectors.smpp.config import SmppConfig
from soapsms.domain.encoding import GSM7, gsm7_encode, ucs2_encode

DATA_CODING = {GSM7: 0x00, "UCS2": 0x08}  # SMSC default alphabet; UCS-2
UDHI = 0x40  # esm_class: the short_message opens with a user data header
TON_INTERNATIONAL, TON_NETWORK, TON_ALPHANUMERIC = 1, 3, 5
NPI_UNKNOWN, NPI_ISDN = 0, 1
_SHORT_CODE_DIGITS = 8  # a digits-only sender this short is a short code


def source_address(sender: str | None, config: SmppConfig) -> tuple[int, int, str]:
    """(source_addr_ton, source_addr_npi, source_addr) for a sender.

    `+digits` and long digit strings are international E.164; short digit
    strings are the carrier's short codes (network specific); anything with a
    letter is alphanumeric (TON 5). The route's source_ton/source_npi win.
    """
    value = (sender or config.source_addr).strip()
    digits = value.removeprefix("+")
    if not value:
        ton, npi = 0, NPI_UNKNOWN
    elif digits.isdigit() and (
        value.startswith("+") or len(digits) > _SHORT_CODE_DIGITS
    ):
        ton, npi, value = TON_INTERNATIONAL, NPI_ISDN, digits
    elif digits.isdigit():
        ton, npi, value = TON_NETWORK, NPI_UNKNOWN, digits
    else:
        ton, npi = TON_ALPHANUMERIC, NPI_UNKNOWN
    return (
        ton if config.source_ton is None else config.source_ton,
        npi if config.source_npi is None else config.source_npi,
        value,
    )


def validity_period(expires_at: datetime, now: datetime, form: str) -> str | None:
    """SMPP 3.4 7.1.1 time for `expires_at` (naive UTC); None once it has passed.

    absolute: "YYMMDDhhmmss000+" in UTC. relative: "0000DDhhmmss000R" from
    `now`, for SMSCs whose clock cannot be trusted. none: "" (SMSC default).
    """
    left = expires_at - now
    if left.total_seconds() <= 0:
        return None
    if form == "none":
        return ""
    if form == "relative":
        seconds = int(left.total_seconds())
        days, rest = divmod(seconds, 86400)
        hours, rest = divmod(rest, 3600)
        minutes, seconds = divmod(rest, 60)
        return f"0000{min(days, 99):02d}{hours:02d}{minutes:02d}{seconds:02d}000R"
    return expires_at.strftime("%y%m%d%H%M%S") + "000+"


def encode_segment(encoding: str, segment: str) -> bytes:
    """The octets SMPP carries for one part's text."""
    return gsm7_encode(segment) if encoding == GSM7 else ucs2_encode(segment)


def concat_reference(message_id: str) -> int:
    """A message's 8-bit concatenation reference: the same on every attempt
    (so parts a carrier took before join the rest, also after a crash), and
    as likely to differ between two messages as a counter's."""
    return zlib.crc32(message_id.encode()) & 0xFF


def concat_header(reference: int, total: int, seq: int) -> bytes:
    """8-bit reference concatenation IE (TS 23.040 9.2.3.24.1) as a whole UDH."""
    return bytes((0x05, 0x00, 0x03, reference & 0xFF, total, seq))


def submit_fields(
    submission: Submission,
    config: SmppConfig,
    reference: int,
    validity: str,
) -> list[dict[str, Any]]:
    """The submit_sm keyword fields of each PDU the message needs, in part order.

    The parts are our encoder's segments, so a GSM escape pair or a surrogate
    pair never straddles two parts (smpplib's make_parts would split escapes).
    With `use_message_payload` a long message goes whole in one PDU's
    message_payload TLV and the SMSC splits it.
    """
    source_ton, source_npi, source = source_address(submission.sender, config)
    common: dict[str, Any] = {
        "service_type": config.service_type,
        "source_addr_ton": source_ton,
        "source_addr_npi": source_npi,
        "source_addr": source,
        "dest_addr_ton": config.dest_ton,
        "dest_addr_npi": config.dest_npi,
        "destination_addr": submission.recipient.removeprefix("+"),
        "validity_period": validity,
        "registered_delivery": 1 if submission.want_receipt else 0,
        "data_coding": DATA_CODING[submission.encoding],
    }
    data = [encode_segment(submission.encoding, s) for s in submission.segments]
    if len(data) == 1:
        return [{**common, "esm_class": 0, "short_message": data[0]}]
    if config.use_message_payload:
        return [{**common, "esm_class": 0, "message_payload": b"".join(data)}]
    total = len(data)
    return [
        {
            **common,
            "esm_class": UDHI,
            "short_message": concat_header(reference, total, seq) + part,
        }
        for seq, part in enumerate(data, start=1)
    ]
