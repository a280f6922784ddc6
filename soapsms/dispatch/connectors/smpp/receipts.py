"""deliver_sm read as a delivery receipt or an inbound message; carrier ids."""

from __future__ import annotations

import logging
import re
from datetime import UTC, datetime, timezone
from typing import Any

from soapsms import errors
from soapsms.dispatch.connectors.base import Inbound, Receipt
from soapsms.dispatch.connectors.smpp.codes import err_key
from soapsms.dispatch.connectors.smpp.config import SmppConfig
from soapsms.domain.encoding import gsm7_decode

logger = logging.getLogger(__name__)

# esm_class bits 2..5 (SMPP 3.4 5.2.12): SMSC delivery receipt, intermediate
# delivery notification. SME acknowledgements (0x08, 0x10) are not receipts.
_RECEIPT_TYPES = (0x04, 0x20)
_TYPE_MASK = 0x3C
UDHI = 0x40

STATS = ("DELIVRD", "UNDELIV", "REJECTD", "EXPIRED", "DELETED", "ACCEPTD", "ENROUTE")
# Spellings some SMSCs use in the text, and the message_state TLV (5.3.2.35).
_STAT_ALIASES = {
    "DELIVERED": "DELIVRD",
    "UNDELIVERABLE": "UNDELIV",
    "UNDELIVERED": "UNDELIV",
    "REJECTED": "REJECTD",
    "ACCEPTED": "ACCEPTD",
    "DELETE": "DELETED",
}
_MESSAGE_STATES = {
    1: "ENROUTE",
    2: "DELIVRD",
    3: "EXPIRED",
    4: "DELETED",
    5: "UNDELIV",
    6: "ACCEPTD",
    7: "UNKNOWN",
    8: "REJECTD",
}
# The de-facto receipt text (SMPP 3.4 Appendix B); keys in any case, fields in
# any order, and `text:` last because it may hold anything.
_FIELD = re.compile(r"(?i)\b(id|sub|dlvrd|submit date|done date|stat|err):\s*(\S*)")
_TEXT = re.compile(r"(?is)\btext:(.*)$")


def normalise_id(raw: str, fmt: str) -> str:
    """A carrier id in the form submit results and receipts share.

    `text`: as given (trimmed). `hex`/`decimal`: the number in canonical
    decimal, so leading zeros and letter case do not matter. An id that is
    not a number in the route's format is kept as text and logged: it will
    not match, which a human must see.
    """
    value = raw.strip().strip("\x00")
    if fmt == "text" or not value:
        return value
    try:
        return str(int(value, 16 if fmt == "hex" else 10))
    except ValueError:
        logger.warning("carrier id %r is not %s as the route says", value, fmt)
        return value


def is_receipt(pdu: Any) -> bool:
    """Whether a deliver_sm is a delivery receipt rather than an inbound message.

    The esm_class says so; a receipt-only TLV says so too, for SMSCs that
    forget the esm_class bits.
    """
    if ((pdu.esm_class or 0) & _TYPE_MASK) in _RECEIPT_TYPES:
        return True
    return bool(getattr(pdu, "receipted_message_id", None)) or (
        getattr(pdu, "message_state", None) is not None
    )


def parse_receipt_text(text: str) -> dict[str, str]:
    """The fields of `id:… sub:… dlvrd:… submit date:… done date:… stat:… err:…`."""
    match_text = _TEXT.search(text)
    head = text if match_text is None else text[: match_text.start()]
    fields = {key.lower(): value for key, value in _FIELD.findall(head)}
    if match_text is not None:
        fields["text"] = match_text.group(1)
    return fields


def receipt_from_pdu(pdu: Any, connector: str, config: SmppConfig) -> Receipt | None:
    """The Receipt a deliver_sm carries, or None when it names no message id."""
    text = _bytes_text(_body(pdu))
    fields = parse_receipt_text(text)
    tlv_id = decode_field(getattr(pdu, "receipted_message_id", None))
    if tlv_id:
        # SMPP 3.4 5.3.2.12: the TLV holds the id exactly as submit_sm_resp gave it.
        carrier_id = normalise_id(tlv_id, config.submit_id_format)
    elif fields.get("id"):
        carrier_id = normalise_id(fields["id"], config.receipt_id_format)
    else:
        return None
    stat = _stat(fields.get("stat"), getattr(pdu, "message_state", None))
    err = fields.get("err") or _network_error(getattr(pdu, "network_error_code", None))
    error_code = None
    if stat == "UNDELIV" and err:
        error_code = config.receipt_err_map.get(err_key(err))
    raw = text or (
        f"receipted_message_id={tlv_id}"
        f" message_state={getattr(pdu, 'message_state', None)}"
    )
    return Receipt(
        connector=connector,
        carrier_id=carrier_id,
        stat=stat,
        err=err or None,
        done_at=_date(fields.get("done date"), config.receipt_tz),
        raw=raw,
        error_code=error_code,
    )


def inbound_from_pdu(pdu: Any, connector: str) -> Inbound:
    """A mobile-originated deliver_sm as an Inbound; undecodable bodies kept as hex."""
    body = _body(pdu)
    extra: dict[str, str] = {"data_coding": str(pdu.data_coding or 0)}
    if (pdu.esm_class or 0) & UDHI and body:
        header_len = body[0] + 1
        extra.update(_concat_info(body[1:header_len]))
        extra["udh"] = body[:header_len].hex()
        body = body[header_len:]
    text, binary = _decode(body, pdu.data_coding or 0)
    if binary:
        extra["hex"] = body.hex()
    sender = decode_field(pdu.source_addr)
    if pdu.source_addr_ton == 1 and sender and not sender.startswith("+"):
        sender = "+" + sender
    return Inbound(
        connector=connector,
        sender=sender,
        recipient=decode_field(pdu.destination_addr),
        text=text,
        received_at=datetime.now(UTC).replace(tzinfo=None),
        extra=extra,
    )


def _body(pdu: Any) -> bytes:
    return bytes(pdu.short_message or getattr(pdu, "message_payload", None) or b"")


def decode_field(value: Any) -> str:
    """A C-octet-string field as text (smpplib gives bytes)."""
    if value is None:
        return ""
    if isinstance(value, bytes):
        return value.decode("latin-1").strip("\x00")
    return str(value)


def _bytes_text(data: bytes) -> str:
    # Receipt texts are ASCII in practice; latin-1 never fails and keeps bytes.
    return data.decode("latin-1")


def _stat(text_stat: str | None, message_state: int | None) -> str:
    if text_stat:
        stat = text_stat.strip().upper()
        stat = _STAT_ALIASES.get(stat, stat)
        return stat if stat in STATS else "UNKNOWN"
    if message_state is not None:
        return _MESSAGE_STATES.get(message_state, "UNKNOWN")
    return "UNKNOWN"


def _network_error(value: Any) -> str:
    # 3 octets: network type, then a 2-octet error code (SMPP 3.4 5.3.2.31).
    data = bytes(value or b"")
    if len(data) != 3:
        return ""
    return f"{int.from_bytes(data[1:], 'big'):03d}"


def _date(value: str | None, tz: timezone) -> datetime | None:
    # YYMMDDhhmm, or YYMMDDhhmmss from SMSCs that add seconds.
    if not value or not value.isdigit() or len(value) not in (10, 12):
        return None
    try:
        when = datetime.strptime(
            value, "%y%m%d%H%M%S" if len(value) == 12 else "%y%m%d%H%M"
        )
    except ValueError:
        return None
    return when.replace(tzinfo=tz).astimezone(UTC).replace(tzinfo=None)


def _concat_info(header: bytes) -> dict[str, str]:
    # Walk the information elements for 8-bit (0x00) or 16-bit (0x08) concatenation.
    pos = 0
    while pos + 2 <= len(header):
        iei, length = header[pos], header[pos + 1]
        data = header[pos + 2 : pos + 2 + length]
        if iei == 0x00 and length == 3:
            return {"ref": str(data[0]), "total": str(data[1]), "seq": str(data[2])}
        if iei == 0x08 and length == 4:
            ref = int.from_bytes(data[:2], "big")
            return {"ref": str(ref), "total": str(data[2]), "seq": str(data[3])}
        pos += 2 + length
    return {}


def _decode(body: bytes, data_coding: int) -> tuple[str, bool]:
    """The text of an inbound body, and whether it had to be kept as hex."""
    scheme = data_coding
    if data_coding & 0xF0 == 0xF0:
        # Message-class coding group (TS 23.038 4): bit 2 picks 8-bit data.
        scheme = 2 if data_coding & 0x04 else 0
    try:
        if scheme == 0:
            # SMSC default alphabet: GSM 03.38 unpacked; some SMSCs send Latin-1.
            try:
                return gsm7_decode(body), False
            except errors.ValidationError:
                return body.decode("latin-1"), False
        if scheme == 1:
            # IA5 text never holds ESC, NUL or other controls but CR/LF; when it
            # does, the SMSC put GSM 03.38 septets there (npm smpp, some SMSCs).
            if any(octet < 0x20 and octet not in (0x0A, 0x0D) for octet in body):
                return gsm7_decode(body), False
            return body.decode("ascii"), False
        if scheme == 3:
            return body.decode("latin-1"), False
        if scheme == 8:
            return body.decode("utf-16-be"), False
    except (UnicodeDecodeError, errors.ValidationError):
        pass
    return body.hex(), True
