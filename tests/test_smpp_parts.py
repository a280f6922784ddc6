"""What the smpp connector puts on the wire: parts, codings, addresses, validity."""

from __future__ import annotations

from datetime import datetime

import pytest

from soapsms.dispatch.connectors.smpp.config import SmppConfig
from soapsms.dispatch.connectors.smpp.pdus import source_address, validity_period
from soapsms.domain.encoding import gsm7_decode, plan
from tests.smsc.esme import connector, submission
from tests.smsc.fault import FaultSmsc, Submit


def sent(text: str, **options: str) -> tuple[list[Submit], tuple[str, ...]]:
    """Submit `text` once; the submit_sm PDUs the SMSC got and our carrier ids."""
    with FaultSmsc() as smsc, connector(smsc.port, **options) as carrier:
        result = carrier.submit(submission(text)).result(5)
    assert result.accepted
    return smsc.submits, result.carrier_ids


def test_gsm_escape_at_the_part_boundary_opens_the_next_part() -> None:
    text = "a" * 152 + "€" + "b" * 200  # the € would straddle septets 153/154
    pdus, ids = sent(text)
    assert len(pdus) == len(ids) == 3
    bodies = [p.short_message[6:] for p in pdus]
    headers = [p.short_message[:6] for p in pdus]
    reference = headers[0][3]
    assert headers == [bytes([5, 0, 3, reference, 3, n]) for n in (1, 2, 3)]
    assert {(p.pdu.esm_class, p.pdu.data_coding) for p in pdus} == {(0x40, 0)}
    assert bodies[0] == b"a" * 152 and bodies[1].startswith(b"\x1b\x65")
    assert not any(body.endswith(b"\x1b") for body in bodies)
    assert all(len(body) <= 153 for body in bodies)
    assert [gsm7_decode(body) for body in bodies] == list(plan(text).segments)
    assert "".join(gsm7_decode(body) for body in bodies) == text


def test_emoji_at_the_ucs2_part_boundary_stays_whole() -> None:
    text = "я" * 66 + "😀" + "ж" * 70  # the emoji's pair would straddle units 67/68
    pdus, ids = sent(text)
    assert len(pdus) == len(ids) == 3
    bodies = [p.short_message[6:] for p in pdus]
    assert {(p.pdu.esm_class, p.pdu.data_coding) for p in pdus} == {(0x40, 8)}
    assert len(bodies[0]) == 132  # 66 units: the 67th would be half an emoji
    assert all(len(body) <= 134 for body in bodies)
    # Each part decodes on its own, strictly: no lone surrogate anywhere.
    assert "".join(body.decode("utf-16-be") for body in bodies) == text


def test_a_message_keeps_its_reference_and_another_gets_its_own() -> None:
    ids = ["01J00000000000000000000000", "01J00000000000000000000001"] * 2
    with FaultSmsc() as smsc, connector(smsc.port) as carrier:
        for message_id in ids:
            sent = carrier.submit(submission("z" * 200, message_id=message_id))
            assert sent.result(5).accepted
    references = [s.short_message[3] for s in smsc.submits]
    # From the message id: the same on a repeat, so parts never orphan.
    assert references[0] == references[1] == references[4] == references[5]
    assert references[2] == references[3] == references[6] == references[7]
    assert references[0] != references[2]


def test_single_part_has_no_header_and_asks_for_a_receipt_when_wanted() -> None:
    with FaultSmsc() as smsc, connector(smsc.port) as carrier:
        carrier.submit(submission("Ping")).result(5)
        carrier.submit(submission("Ping", want_receipt=False)).result(5)
    first, second = (s.pdu for s in smsc.submits)
    assert (first.esm_class, first.short_message, first.registered_delivery) == (
        0,
        b"Ping",
        1,
    )
    assert second.registered_delivery == 0
    assert (first.destination_addr, first.dest_addr_ton, first.dest_addr_npi) == (
        b"17036069996",
        1,
        1,
    )


def test_message_payload_carries_the_whole_text_in_one_pdu() -> None:
    text = "€" * 100 + "x" * 200
    pdus, ids = sent(text, use_message_payload="yes")
    assert len(pdus) == len(ids) == 1
    pdu = pdus[0].pdu
    assert (pdu.esm_class, pdu.sm_length, pdu.short_message) == (0, 0, b"")
    assert gsm7_decode(pdu.message_payload) == text


CONFIG = SmppConfig(host="127.0.0.1", system_id="x", source_addr="DEFAULT")


@pytest.mark.parametrize(
    ("sender", "options", "expected"),
    [
        ("SOAPSMS", {}, (5, 0, "SOAPSMS")),
        ("Acme 24", {}, (5, 0, "Acme 24")),
        ("+447700900123", {}, (1, 1, "447700900123")),
        ("447700900123", {}, (1, 1, "447700900123")),  # long digits: E.164
        ("12345", {}, (3, 0, "12345")),  # short code
        (None, {}, (5, 0, "DEFAULT")),  # the route's default sender
        (None, {"source_addr": ""}, (0, 0, "")),  # the SMSC's default
        ("12345", {"source_ton": 2, "source_npi": 1}, (2, 1, "12345")),
    ],
)
def test_source_address(
    sender: str | None, options: dict[str, object], expected: tuple[int, int, str]
) -> None:
    config = SmppConfig(**{**CONFIG.__dict__, **options})  # type: ignore[arg-type]
    assert source_address(sender, config) == expected


NOW = datetime(2025, 3, 1, 12, 0, 0)


@pytest.mark.parametrize(
    ("expires_at", "form", "expected"),
    [
        (datetime(2025, 3, 3, 12, 0, 5), "absolute", "250303120005000+"),
        (datetime(2025, 3, 3, 13, 30, 5), "relative", "000002013005000R"),
        (datetime(2025, 3, 3, 12, 0, 0), "none", ""),
        (datetime(2025, 3, 1, 12, 0, 0), "absolute", None),  # already over
    ],
)
def test_validity_period(expires_at: datetime, form: str, expected: str | None) -> None:
    assert validity_period(expires_at, NOW, form) == expected
