"""Delivery receipts and inbound messages from deliver_sm, on the wire and as parsed."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import pytest
from smpplib import smpp as smpp_pdu

from soapsms.dispatch.connectors.smpp.config import SmppConfig
from soapsms.dispatch.connectors.smpp.receipts import (
    inbound_from_pdu,
    is_receipt,
    normalise_id,
    parse_receipt_text,
    receipt_from_pdu,
)
from tests.smsc.esme import RecordingSink, connector, submission
from tests.smsc.fault import Conn, FaultSmsc, wait_until

# --- on the wire ---------------------------------------------------------------


def test_receipt_before_submit_sm_resp_reaches_the_sink_and_matches() -> None:
    def receipt_first(conn: Conn, pdu: Any) -> None:
        message_id = conn.smsc.next_id()
        conn.receipt(message_id)
        conn.accept(pdu, message_id)

    sink = RecordingSink()
    with FaultSmsc(receipt_first) as smsc, connector(smsc.port, sink) as carrier:
        result = carrier.submit(submission()).result(5)
        [receipt] = wait_until(lambda: sink.receipts, what="the early receipt")
    assert result.accepted
    assert receipt.carrier_id == result.carrier_ids[0]
    assert (receipt.connector, receipt.stat) == ("carrier-a", "DELIVRD")


def test_late_repeated_and_out_of_order_receipts_are_all_reported() -> None:
    sink = RecordingSink()
    with FaultSmsc() as smsc, connector(smsc.port, sink) as carrier:
        first, second = (carrier.submit(submission()).result(5) for _ in range(2))
        conn = smsc.current
        a, b = first.carrier_ids[0], second.carrier_ids[0]
        # Final before intermediate, the same receipt twice, and one for the
        # first message only after more traffic.
        sequences = [conn.receipt(b, "DELIVRD"), conn.receipt(b, "ENROUTE")]
        sequences.append(conn.receipt(b, "DELIVRD"))
        assert carrier.submit(submission()).result(5).accepted
        sequences.append(conn.receipt(a, "UNDELIV", err="001"))
        wait_until(lambda: len(sink.receipts) == 4, what="four receipts")
        wait_until(
            lambda: all(s in smsc.deliver_resps for s in sequences),
            what="deliver_sm_resp for each",
        )
    assert [(r.carrier_id, r.stat, r.err) for r in sink.receipts] == [
        (b, "DELIVRD", "000"),
        (b, "ENROUTE", "000"),
        (b, "DELIVRD", "000"),
        (a, "UNDELIV", "001"),
    ]
    assert {smsc.deliver_resps[s] for s in sequences} == {0}


def test_hex_submit_ids_match_decimal_receipt_text() -> None:
    sink = RecordingSink()
    with (
        FaultSmsc(id_format="{:08X}") as smsc,
        connector(
            smsc.port, sink, submit_id_format="hex", receipt_id_format="decimal"
        ) as carrier,
    ):
        [carrier_id] = carrier.submit(submission()).result(5).carrier_ids
        # This SMSC writes "00000001" in submit_sm_resp, "1" in the receipt text.
        smsc.current.receipt("ignored", text_id="0001", tlv=False)
        [receipt] = wait_until(lambda: sink.receipts, what="the receipt")
    assert carrier_id == receipt.carrier_id == "1"


def test_inbound_message_is_delivered_and_acknowledged() -> None:
    sink = RecordingSink()
    with FaultSmsc() as smsc, connector(smsc.port, sink):
        sequence = smsc.current.deliver(
            source_addr="447700900123",
            source_addr_ton=1,
            destination_addr="SOAPSMS",
            data_coding=8,
            short_message="Merci 😀".encode("utf-16-be"),
        )
        wait_until(lambda: sequence in smsc.deliver_resps, what="deliver_sm_resp")
    assert smsc.deliver_resps[sequence] == 0
    [inbound] = sink.inbounds
    assert (inbound.sender, inbound.recipient, inbound.text) == (
        "+447700900123",
        "SOAPSMS",
        "Merci 😀",
    )


def test_a_sink_that_cannot_take_it_makes_the_smsc_redeliver() -> None:
    sink = RecordingSink()
    sink.fail = 1
    with FaultSmsc() as smsc, connector(smsc.port, sink):
        fields = {"source_addr": "447700900123", "short_message": b"STOP"}
        first = smsc.current.deliver(**fields)
        wait_until(lambda: first in smsc.deliver_resps, what="first deliver_sm_resp")
        second = smsc.current.deliver(**fields)  # the SMSC's redelivery
        wait_until(lambda: second in smsc.deliver_resps, what="second deliver_sm_resp")
    # ESME_RX_T_APPN: temporary, the SMSC keeps the message and retries.
    assert (smsc.deliver_resps[first], smsc.deliver_resps[second]) == (0x64, 0)
    assert [m.text for m in sink.inbounds] == ["STOP"]


# --- parsing -------------------------------------------------------------------


def config(**options: Any) -> SmppConfig:
    return SmppConfig(host="127.0.0.1", system_id="x", **options)


def deliver_sm(**fields: Any) -> Any:
    """A deliver_sm as the connector gets it: generated and parsed by smpplib."""
    seq = type("Seq", (), {"sequence": 0, "next_sequence": lambda self: 1})()
    raw = smpp_pdu.make_pdu("deliver_sm", client=seq, **fields).generate()
    return smpp_pdu.parse_pdu(raw, client=seq, allow_unknown_opt_params=True)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "id:0123456789 sub:001 dlvrd:001 submit date:2501011200"
            " done date:2501011201 stat:DELIVRD err:000 text:Hello world",
            {
                "id": "0123456789",
                "sub": "001",
                "dlvrd": "001",
                "submit date": "2501011200",
                "done date": "2501011201",
                "stat": "DELIVRD",
                "err": "000",
                "text": "Hello world",
            },
        ),
        # Keys in capitals, fields reordered, a text that looks like fields.
        (
            "Id:ab12 Stat:UNDELIV Err:005 Done Date:250101120130 Text:stat:DELIVRD",
            {
                "id": "ab12",
                "stat": "UNDELIV",
                "err": "005",
                "done date": "250101120130",
                "text": "stat:DELIVRD",
            },
        ),
        ("stat:EXPIRED", {"stat": "EXPIRED"}),
        ("", {}),
    ],
)
def test_receipt_text_fields(text: str, expected: dict[str, str]) -> None:
    assert parse_receipt_text(text) == expected


@pytest.mark.parametrize(
    ("fields", "carrier_id", "stat", "err", "done_at"),
    [
        (  # the text alone
            {"short_message": b"id:2A stat:DELIVRD err:000 done date:2501011201"},
            "42",
            "DELIVRD",
            "000",
            datetime(2025, 1, 1, 12, 1),
        ),
        (  # the TLVs win for the id; the text's stat is read
            {
                "short_message": b"id:99 stat:REJECTD err:012",
                "receipted_message_id": "0000002A",
            },
            "42",
            "REJECTD",
            "012",
            None,
        ),
        (  # TLVs only: message_state and network_error_code
            {
                "receipted_message_id": "2a",
                "message_state": 5,
                "network_error_code": b"\x03\x00\x22",
            },
            "42",
            "UNDELIV",
            "034",
            None,
        ),
        (  # long spellings and unknown states
            {"short_message": b"id:2A stat:DELIVERED"},
            "42",
            "DELIVRD",
            None,
            None,
        ),
        ({"short_message": b"id:2A stat:WEIRD"}, "42", "UNKNOWN", None, None),
    ],
)
def test_receipts_parsed(
    fields: dict[str, Any],
    carrier_id: str,
    stat: str,
    err: str | None,
    done_at: datetime | None,
) -> None:
    pdu = deliver_sm(esm_class=0x04, **fields)
    assert is_receipt(pdu)
    receipt = receipt_from_pdu(pdu, "c", config(submit_id_format="hex"))
    assert receipt is not None
    assert (receipt.carrier_id, receipt.stat, receipt.err, receipt.done_at) == (
        carrier_id,
        stat,
        err,
        done_at,
    )


def test_receipt_dates_in_the_smsc_zone_become_utc() -> None:
    pdu = deliver_sm(esm_class=0x04, short_message=b"id:1 done date:2501011400")
    receipt = receipt_from_pdu(pdu, "c", config(receipt_utc_offset_minutes=120))
    assert receipt is not None and receipt.done_at == datetime(2025, 1, 1, 12, 0)


def test_receipt_without_an_id_is_none() -> None:
    pdu = deliver_sm(esm_class=0x04, short_message=b"stat:DELIVRD")
    assert receipt_from_pdu(pdu, "c", config()) is None


@pytest.mark.parametrize(
    ("fields", "receipt"),
    [
        ({"esm_class": 0x04}, True),
        ({"esm_class": 0x20}, True),  # intermediate delivery notification
        ({"esm_class": 0x00, "receipted_message_id": "1"}, True),
        ({"esm_class": 0x00, "short_message": b"id:1 stat:DELIVRD"}, False),
        ({"esm_class": 0x40}, False),  # a concatenated inbound part
        ({"esm_class": 0x08}, False),  # SME delivery acknowledgement
    ],
)
def test_what_counts_as_a_receipt(fields: dict[str, Any], receipt: bool) -> None:
    assert is_receipt(deliver_sm(**fields)) is receipt


@pytest.mark.parametrize(
    ("fields", "text", "extra"),
    [
        ({"short_message": b"Hi \x1b\x65 \x00"}, "Hi € @", {}),  # GSM 03.38
        ({"data_coding": 3, "short_message": "Grüße".encode("latin-1")}, "Grüße", {}),
        ({"data_coding": 1, "short_message": b"plain"}, "plain", {}),
        ({"data_coding": 4, "short_message": b"\xff\x01"}, "ff01", {"hex": "ff01"}),
        (
            {"esm_class": 0x40, "short_message": b"\x05\x00\x03\x07\x02\x01part one"},
            "part one",
            {"ref": "7", "total": "2", "seq": "1", "udh": "050003070201"},
        ),
        ({"message_payload": b"from the payload"}, "from the payload", {}),
    ],
)
def test_inbound_bodies(
    fields: dict[str, Any], text: str, extra: dict[str, str]
) -> None:
    inbound = inbound_from_pdu(
        deliver_sm(source_addr="12345", destination_addr="SOAPSMS", **fields), "c"
    )
    assert inbound.text == text
    assert {k: v for k, v in inbound.extra.items() if k != "data_coding"} == extra
    assert (inbound.sender, inbound.connector) == ("12345", "c")


@pytest.mark.parametrize(
    ("raw", "fmt", "expected"),
    [
        ("0000A1", "hex", "161"),
        ("a1", "hex", "161"),
        ("00161", "decimal", "161"),
        (" abc-1 ", "text", "abc-1"),
        ("ABC-1", "text", "ABC-1"),
        ("not-hex", "hex", "not-hex"),  # kept, and logged
    ],
)
def test_carrier_ids_normalised(raw: str, fmt: str, expected: str) -> None:
    assert normalise_id(raw, fmt) == expected


@pytest.mark.parametrize(
    ("text", "error_code"),
    [
        (b"id:1 stat:UNDELIV err:001", "UNKNOWN_SUBSCRIBER"),
        (b"id:1 stat:UNDELIV err:27", "ABSENT_SUBSCRIBER"),  # leading zeros
        (b"id:1 stat:UNDELIV err:099", None),  # unmapped: the table's UNKNOWN
        (b"id:1 stat:REJECTD err:001", None),  # the table's CARRIER_REJECTED
    ],
)
def test_undeliv_err_mapped_where_the_route_says(
    text: bytes, error_code: str | None
) -> None:
    route = config(
        receipt_err_map={"1": "UNKNOWN_SUBSCRIBER", "27": "ABSENT_SUBSCRIBER"}
    )
    receipt = receipt_from_pdu(
        deliver_sm(esm_class=0x04, short_message=text), "c", route
    )
    assert receipt is not None and receipt.error_code == error_code
