"""The smpp connector against the npm `smpp` package's server: an SMSC we did not write."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from soapsms.domain.encoding import plan
from tests.smsc.esme import RecordingSink, connector, submission
from tests.smsc.fault import wait_until
from tests.smsc.npm import NpmSmsc, ensure_installed


@pytest.fixture(scope="module")
def smsc() -> Iterator[NpmSmsc]:
    server = NpmSmsc(ensure_installed())
    yield server
    server.close()


def submits_for(smsc: NpmSmsc, count: int, start: int) -> list[dict]:
    return wait_until(
        lambda: (s := smsc.find("submit")[start:]) and len(s) >= count and s,
        what=f"{count} submit_sm at the SMSC",
    )[:count]


def test_bind_submit_and_receipt_with_hex_ids(smsc: NpmSmsc) -> None:
    sink = RecordingSink()
    with connector(
        smsc.port, sink, system_type="soap", submit_id_format="hex"
    ) as carrier:
        bind = smsc.find("bind")[-1]
        assert (bind["system_id"], bind["password"], bind["system_type"]) == (
            "soapsms",
            "secret",
            "soap",
        )
        start = len(smsc.find("submit"))
        sent = submission("Server web01 is down")
        result = carrier.submit(sent).result(5)
        [seen] = submits_for(smsc, 1, start)
        assert result.accepted
        # The SMSC's hex id "000001F0…" and the receipt's both read as decimal.
        assert result.carrier_ids == (str(int(seen["message_id"], 16)),)
        assert seen["message"] == "Server web01 is down"
        assert (
            seen["data_coding"],
            seen["esm_class"],
            seen["registered_delivery"],
        ) == (0, 0, 1)
        assert (
            seen["source_addr"],
            seen["source_addr_ton"],
            seen["source_addr_npi"],
        ) == ("SOAPSMS", 5, 0)
        assert (
            seen["destination_addr"],
            seen["dest_addr_ton"],
            seen["dest_addr_npi"],
        ) == ("17036069996", 1, 1)
        # The SMSC read our absolute UTC validity back as the same instant.
        assert seen["validity_period"] == sent.expires_at.strftime(
            "%Y-%m-%dT%H:%M:%S.000Z"
        )
        [receipt] = wait_until(lambda: sink.receipts, what="the receipt")
        assert (receipt.carrier_id, receipt.stat) == (result.carrier_ids[0], "DELIVRD")


@pytest.mark.parametrize(
    "text",
    [
        # A euro sign where part one would end: its escape pair moves to part two.
        "a" * 152 + "€" + "b" * 160,
        # An emoji where UCS-2 part one would end: the surrogate pair stays whole.
        "я" * 66 + "😀" + "ж" * 80,
    ],
    ids=["gsm-escape-at-boundary", "emoji-at-ucs2-boundary"],
)
def test_long_messages_reassemble_at_a_real_smsc(smsc: NpmSmsc, text: str) -> None:
    planned = plan(text)
    with connector(smsc.port) as carrier:
        start = len(smsc.find("submit"))
        result = carrier.submit(submission(text)).result(5)
        seen = submits_for(smsc, planned.parts, start)
    assert result.accepted and len(result.carrier_ids) == planned.parts == len(seen)
    # The SMSC decodes each part by itself: each is exactly our segment.
    assert [s["message"] for s in seen] == list(planned.segments)
    assert "".join(s["message"] for s in seen) == text
    headers = [bytes.fromhex(s["udh"][0]) for s in seen]
    assert {h[:3] for h in headers} == {b"\x00\x03" + bytes([headers[0][2]])}
    assert [(h[3], h[4]) for h in headers] == [
        (planned.parts, i + 1) for i in range(planned.parts)
    ]
    assert {s["esm_class"] & 0x40 for s in seen} == {0x40}


def test_message_payload_goes_whole(smsc: NpmSmsc) -> None:
    text = "x" * 300
    with connector(smsc.port, use_message_payload="true") as carrier:
        start = len(smsc.find("submit"))
        result = carrier.submit(submission(text)).result(5)
        [seen] = submits_for(smsc, 1, start)
    assert result.accepted and len(result.carrier_ids) == 1
    assert (seen["message"], seen["payload"]) == ("", text)


def test_inbound_message_is_delivered_and_acknowledged(smsc: NpmSmsc) -> None:
    sink = RecordingSink()
    with connector(smsc.port, sink):
        before = len(smsc.find("deliver_sm_resp"))
        smsc.mo(
            source_addr="447700900123",
            source_addr_ton=1,
            destination_addr="SOAPSMS",
            short_message="Reply {ok} €5",
        )
        [inbound] = wait_until(lambda: sink.inbounds, what="the inbound message")
        resps = wait_until(
            lambda: smsc.find("deliver_sm_resp")[before:], what="deliver_sm_resp"
        )
    assert (inbound.sender, inbound.recipient, inbound.text) == (
        "+447700900123",
        "SOAPSMS",
        "Reply {ok} €5",
    )
    assert [r["status"] for r in resps] == [0]
