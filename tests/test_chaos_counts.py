"""The chaos harness's counting of an SMSC log: duplicates, orphans, repeats."""

from __future__ import annotations

from typing import Any

from tests.chaos.carrier import count


def submit(t: int, dst: str, id_: str, conn: int = 1, **udh: Any) -> dict[str, Any]:
    return {
        "e": "submit",
        "t": t,
        "status": 0,
        "dst": dst,
        "id": id_,
        "conn": conn,
        "ref": udh.get("ref"),
        "total": udh.get("total"),
        "part": udh.get("part"),
    }


def test_a_clean_multipart_and_a_single_count_once() -> None:
    c = count(
        [
            submit(1, "a", "1F0", ref=7, total=2, part=1),
            submit(2, "a", "1F1", ref=7, total=2, part=2),
            submit(3, "b", "1F2"),
        ]
    )
    assert (c.distinct_messages, c.complete_messages, c.accepted_pdus) == (2, 2, 3)
    assert (c.duplicate_parts, c.orphan_references, c.duplicated_messages) == (0, 0, 0)
    assert c.ids == {str(0x1F0), str(0x1F1), str(0x1F2)}


def test_a_resend_under_a_new_reference_orphans_the_first() -> None:
    # Part 1 accepted under ref 7, part 2 refused; the retry sends both as ref 8.
    c = count(
        [
            submit(1, "a", "1F0", ref=7, total=2, part=1),
            {"e": "submit", "t": 2, "status": 0x58, "dst": "a", "conn": 1},
            submit(3, "a", "1F1", ref=8, total=2, part=1),
            submit(4, "a", "1F2", ref=8, total=2, part=2),
        ]
    )
    assert (c.refused_pdus, c.duplicate_parts, c.duplicated_messages) == (1, 1, 1)
    assert (c.orphan_references, c.orphan_fragments, c.complete_messages) == (1, 1, 1)
    # The connection was up: not a repeat after a kill, and answered in time.
    assert (c.dup_not_after_close, c.dup_when_answered) == (1, 1)


def test_a_repeat_after_the_first_connection_closed_is_after_a_kill() -> None:
    c = count(
        [
            submit(1, "a", "1F0", conn=1),
            {"e": "close", "t": 2, "conn": 1},
            submit(3, "a", "1F1", conn=2),
        ]
    )
    assert (c.duplicated_messages, c.dup_not_after_close, c.closes) == (1, 0, 1)


def test_a_repeat_of_an_unanswered_or_late_submission_is_excused() -> None:
    unanswered = submit(1, "a", "1F0")
    unanswered["answered"] = False
    c = count(
        [
            unanswered,
            submit(2, "a", "1F1"),
            submit(3, "b", "1F2"),
            {"e": "late_resp", "t": 4, "id": "1F2", "conn": 1},
            submit(5, "b", "1F3"),
        ]
    )
    assert (c.duplicated_messages, c.dup_when_answered) == (2, 0)
    assert (c.unanswered_accepted, c.answered_late) == (1, 1)


def test_an_answer_just_before_a_close_may_not_have_arrived() -> None:
    c = count(
        [
            submit(1000, "a", "1F0", conn=1),
            submit(1900, "b", "1F1", conn=1),
            {"e": "close", "t": 2000, "conn": 1},
            submit(3000, "a", "1F2", conn=2),
            submit(3100, "b", "1F3", conn=2),
        ]
    )
    # "b" was answered 100 ms before the close: excused; "a" 1 s before: not.
    assert (c.duplicated_messages, c.dup_when_answered, c.answered_late) == (2, 1, 1)


def test_receipts_sent_twice_and_one_never_answered() -> None:
    c = count(
        [
            {"e": "receipt", "t": 1, "id": "1F0", "conn": 1},
            {"e": "receipt", "t": 2, "id": "1F0", "conn": 2},
            {"e": "receipt_ack", "t": 3, "id": "1F0", "conn": 2},
            {"e": "receipt", "t": 4, "id": "1F1", "conn": 2},
        ]
    )
    assert (c.receipts_sent, c.receipt_sends, c.receipts_unacked) == (2, 3, 1)
