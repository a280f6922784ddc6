"""Receipts: the contract's table, multipart, late, repeated, out of order,
before the submission's answer; inbound messages are kept."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import pytest
from sqlalchemy import select

from soapsms.store.db import transaction
from soapsms.store.migrate import upgrade
from soapsms.store.models import InboundMessage, ReceiptRecord
from soapsms.usecases import accounts
from soapsms.usecases.dispatching import queue as uc
from soapsms.usecases.dispatching.receipts import (
    InboundIn,
    ReceiptIn,
    match_recorded,
    record_inbound,
    record_receipts,
)
from soapsms.usecases.runtime import Runtime, utc_now
from tests.conftest import make_settings
from tests.dispatch_helpers import history, message, send_to

LONG = "x" * 400  # three GSM-7 parts


@pytest.fixture
def rt(db_url: str) -> Iterator[Runtime]:
    runtime = Runtime(make_settings(db_url))
    upgrade(runtime.engine)
    accounts.create_account(runtime, "acme", "s3cret", "ACME Corp")
    yield runtime
    runtime.close()


def _accepted(rt: Runtime, text: str, *ids: str) -> tuple[str, dict[str, list[str]]]:
    """A message claimed and accepted by the carrier `c` with carrier ids
    `ids`, and `record_submissions`' answer (the carrier ids it recorded)."""
    [m] = send_to(rt, "acme", "+17036069996", text=text).messages
    [job] = uc.claim_batch(rt, "test", 10, timedelta(seconds=30))
    recorded = uc.record_submissions(
        rt,
        [uc.Outcome(job.message_id, job.created_at, uc.ACCEPTED, "c", ids)],
    )
    return m.message_id, recorded


def _submitted(rt: Runtime, text: str = "hi", *ids: str) -> str:
    """`_accepted`, then the receipts that overtook it matched."""
    message_id, recorded = _accepted(rt, text, *ids)
    match_recorded(rt, recorded)
    return message_id


def _receipt(carrier_id: str, stat: str, err: str | None = None) -> ReceiptIn:
    return ReceiptIn("c", carrier_id, stat, err=err, raw=f"id:{carrier_id} stat:{stat}")


RECEIPT_TABLE = [
    ("DELIVRD", "000", "DELIVERED", None),
    ("UNDELIV", "001", "UNDELIVERED", "UNKNOWN"),
    ("REJECTD", "002", "UNDELIVERED", "CARRIER_REJECTED"),
    ("EXPIRED", None, "EXPIRED", "VALIDITY_EXPIRED"),
    ("DELETED", None, "UNDELIVERED", "UNKNOWN"),
    ("ACCEPTD", None, "SUBMITTED", None),
    ("ENROUTE", None, "SUBMITTED", None),
    ("UNKNOWN", None, "SUBMITTED", None),
]


def test_receipt_table(rt: Runtime) -> None:
    # One store for the whole table: a fresh schema per row costs seconds.
    for number, (stat, err, status, error_code) in enumerate(RECEIPT_TABLE):
        message_id = _submitted(rt, "hi", f"id-{number}")
        record_receipts(rt, [_receipt(f"id-{number}", stat, err)])
        row = message(rt, message_id)
        assert (row.status, row.error_code) == (status, error_code), stat
        text = f"stat:{stat}" + (f" err:{err}" if err else "")
        if status not in ("SUBMITTED", "DELIVERED"):
            assert row.carrier_error == text
        # Recorded in the history either way.
        assert history(rt, message_id)[-1].detail.endswith(text)


def test_route_mapped_error_code_wins_for_undeliv(rt: Runtime) -> None:
    message_id = _submitted(rt, "hi", "id-1")
    record_receipts(
        rt,
        [ReceiptIn("c", "id-1", "UNDELIV", err="027", error_code="ABSENT_SUBSCRIBER")],
    )
    assert message(rt, message_id).error_code == "ABSENT_SUBSCRIBER"


def test_late_duplicate_and_out_of_order_receipts_change_nothing(rt: Runtime) -> None:
    message_id = _submitted(rt, "hi", "id-1")
    record_receipts(rt, [_receipt("id-1", "DELIVRD")])
    done = message(rt, message_id)
    record_receipts(rt, [_receipt("id-1", "DELIVRD")])  # the same again
    record_receipts(rt, [_receipt("id-1", "UNDELIV"), _receipt("id-1", "ENROUTE")])
    after = message(rt, message_id)
    assert (after.status, after.updated_at, after.done_at) == (
        "DELIVERED",
        done.updated_at,
        done.done_at,
    )
    assert [h.status for h in history(rt, message_id)] == ["SUBMITTED", "DELIVERED"]
    with transaction(rt.engine) as conn:
        outcomes = sorted(
            conn.execute(select(ReceiptRecord.stat, ReceiptRecord.outcome)).all()
        )
    assert outcomes == [
        ("DELIVRD", "applied"),
        ("ENROUTE", "ignored"),
        ("UNDELIV", "ignored"),
    ]


def test_receipt_before_the_submission_is_recorded(rt: Runtime) -> None:
    record_receipts(
        rt, [_receipt("early-1", "ENROUTE"), _receipt("early-1", "DELIVRD")]
    )
    message_id = _submitted(rt, "hi", "early-1")
    row = message(rt, message_id)
    assert (row.status, row.parts_delivered) == ("DELIVERED", 1)
    assert [h.status for h in history(rt, message_id)] == [
        "SUBMITTED",
        "SUBMITTED",
        "DELIVERED",
    ]


def test_receipts_recorded_with_the_submissions_just_recorded_match_those_waiting(
    rt: Runtime,
) -> None:
    # The receipts thread stores its batch and matches the receipts that
    # overtook the recorded submissions in one transaction.
    record_receipts(rt, [_receipt("early-2", "DELIVRD")])
    waiting, recorded = _accepted(rt, "one", "early-2")
    assert message(rt, waiting).status == "SUBMITTED"
    other = _submitted(rt, "two", "now-1")
    record_receipts(rt, [_receipt("now-1", "DELIVRD")], recorded=recorded)
    assert message(rt, waiting).status == "DELIVERED"
    assert message(rt, other).status == "DELIVERED"
    with transaction(rt.engine) as conn:
        assert conn.scalars(select(ReceiptRecord.outcome)).all() == ["applied"] * 2


def test_receipts_for_a_message_nobody_sent_wait_unmatched(rt: Runtime) -> None:
    record_receipts(rt, [_receipt("stranger", "DELIVRD")])
    with transaction(rt.engine) as conn:
        assert conn.scalar(select(ReceiptRecord.outcome)) == "unmatched"


def test_multipart_is_delivered_when_every_part_is(rt: Runtime) -> None:
    message_id = _submitted(rt, LONG, "p-1", "p-2", "p-3")
    assert message(rt, message_id).parts == 3
    record_receipts(rt, [_receipt("p-3", "DELIVRD"), _receipt("p-1", "DELIVRD")])
    row = message(rt, message_id)
    assert (row.status, row.parts_delivered) == ("SUBMITTED", 2)
    record_receipts(rt, [_receipt("p-2", "DELIVRD")])
    row = message(rt, message_id)
    assert (row.status, row.parts_delivered) == ("DELIVERED", 3)


def test_one_carrier_id_for_all_parts_is_delivered_by_its_receipt(rt: Runtime) -> None:
    # SMPP routes with message_payload submit a long text as one PDU.
    message_id = _submitted(rt, LONG, "whole-1")
    record_receipts(rt, [_receipt("whole-1", "DELIVRD")])
    row = message(rt, message_id)
    assert (row.status, row.parts_delivered) == ("DELIVERED", 3)


def test_multipart_fails_as_soon_as_one_part_does(rt: Runtime) -> None:
    message_id = _submitted(rt, LONG, "q-1", "q-2", "q-3")
    record_receipts(rt, [_receipt("q-1", "DELIVRD"), _receipt("q-2", "EXPIRED")])
    row = message(rt, message_id)
    assert (row.status, row.error_code, row.parts_delivered) == (
        "EXPIRED",
        "VALIDITY_EXPIRED",
        1,
    )
    # A later part still counts as delivered; the status stays final.
    record_receipts(rt, [_receipt("q-3", "DELIVRD")])
    row = message(rt, message_id)
    assert (row.status, row.parts_delivered) == ("EXPIRED", 2)


def test_inbound_messages_are_stored(rt: Runtime) -> None:
    record_inbound(
        rt,
        [InboundIn("c", "+17036069996", "+15550000", "STOP", utc_now(), {"x": "1"})],
    )
    with transaction(rt.engine) as conn:
        row = conn.execute(select(InboundMessage.__table__)).one()
    assert (row.sender, row.text, row.extra) == ("+17036069996", "STOP", '{"x":"1"}')


def test_refunds_only_without_a_submission(rt: Runtime) -> None:
    accounts.set_credits(rt, "acme", balance=10)
    message_id = _submitted(rt, "hi", "r-1")
    record_receipts(rt, [_receipt("r-1", "UNDELIV")])
    assert message(rt, message_id).status == "UNDELIVERED"
    assert accounts.get(rt, "acme").credits == 9  # it reached the carrier
