"""The chaos harness's SMSC (tests/smsc/npm/smsc.js with --faults) fails the
way the scenarios need, and its log counts what it saw."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import smpplib.client
import smpplib.exceptions
import smpplib.smpp

from tests.chaos import carrier
from tests.smsc.fault import wait_until
from tests.smsc.npm import NpmSmsc, ensure_installed


@contextmanager
def smsc_with(faults: dict[str, Any], log: Path) -> Iterator[NpmSmsc]:
    server = NpmSmsc(ensure_installed(), quiet=True, faults={**faults, "log": str(log)})
    try:
        yield server
    finally:
        server.close()


@contextmanager
def esme(port: int) -> Iterator[smpplib.client.Client]:
    client = smpplib.client.Client(
        "127.0.0.1", port, timeout=5, allow_unknown_opt_params=True
    )
    client.connect()
    client.bind_transceiver(system_id="chaos", password="pw")
    try:
        yield client
    finally:
        client.disconnect()


def submit(client: smpplib.client.Client, number: str, **fields: Any) -> Any:
    client.send_message(
        source_addr="SOAPSMS",
        destination_addr=number,
        short_message=b"hello",
        **fields,
    )
    return client.read_pdu()


def test_throttle_and_queue_full_answer_their_codes(tmp_path: Path) -> None:
    log = tmp_path / "smsc.jsonl"
    with smsc_with({"throttle": 1.0}, log) as smsc, esme(smsc.port) as client:
        answer = submit(client, "447900000001")
        smsc.flush()
    assert (answer.command, answer.status) == ("submit_sm_resp", 0x58)
    with smsc_with({"queue_full": 1.0}, log) as smsc, esme(smsc.port) as client:
        answer = submit(client, "447900000002")
        smsc.flush()
    assert answer.status == 0x14
    counts = carrier.count(carrier.read(log))
    assert (counts.refused_pdus, counts.accepted_pdus) == (2, 0)


def test_unanswered_receipt_comes_again_after_a_reconnect(tmp_path: Path) -> None:
    log = tmp_path / "smsc.jsonl"
    with smsc_with({}, log) as smsc:
        with esme(smsc.port) as client:
            resp = submit(client, "447900000003", registered_delivery=1)
            first = client.read_pdu()  # the receipt, left unanswered
        assert resp.status == 0 and first.command == "deliver_sm"
        with esme(smsc.port) as client:
            again = client.read_pdu()
            assert again.command == "deliver_sm"
            assert again.receipted_message_id == first.receipted_message_id
            answer = smpplib.smpp.make_pdu("deliver_sm_resp", client=client)
            answer.sequence = again.sequence  # make_pdu numbers it afresh
            client.send_pdu(answer)
            wait_until(lambda: smsc.flush() == 0, 5, "the receipt acknowledged")
    counts = carrier.count(carrier.read(log))
    assert (counts.receipts_sent, counts.receipt_sends, counts.receipts_unacked) == (
        1,
        2,
        0,
    )


def test_a_cut_connection_leaves_its_submission_unanswered(tmp_path: Path) -> None:
    log = tmp_path / "smsc.jsonl"
    with smsc_with({"drop_every": 2}, log) as smsc:
        with esme(smsc.port) as client:
            assert submit(client, "447900000004").status == 0
            client.send_message(
                source_addr="SOAPSMS",
                destination_addr="447900000005",
                short_message=b"x",
            )
            try:
                client.read_pdu()
                raise AssertionError("the second submit_sm was answered")
            except smpplib.exceptions.ConnectionError:
                pass
        smsc.flush()
    counts = carrier.count(carrier.read(log))
    assert (counts.accepted_pdus, counts.unanswered_accepted, counts.closes) == (
        2,
        1,
        1,
    )
