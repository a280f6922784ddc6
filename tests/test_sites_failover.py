"""The two sites, small: real namespaces, a real primary and streaming
standby, two `soapsms serve` nodes, clients failing over between them
(tests/sites/; `make sites` runs the same scenarios at full size).

Needs root, iproute2 and PostgreSQL's server binaries: skipped without them,
except where SOAPSMS_REQUIRE names `sites` (CI), where that fails instead."""

from __future__ import annotations

import pytest

from tests.sites import scenarios as sc
from tests.sites.harness import missing

COUNT = 300


@pytest.fixture(autouse=True)
def _sites_or_skip(required: frozenset[str]) -> None:
    why = missing()
    if why is None:
        return
    if "sites" in required:
        pytest.fail(f"SOAPSMS_REQUIRE=sites but {why}")
    pytest.skip(f"the two-site tests: {why}")


def _every_acknowledged_message_kept(row: sc.Row) -> None:
    assert row.acknowledged == COUNT, row
    assert (row.lost, row.duplicated, row.undispatched) == (0, 0, 0), row
    assert row.stored == COUNT, row


def test_primary_cut_off_and_standby_promoted_loses_nothing_synchronously() -> None:
    row = sc.primary_lost(COUNT, synchronous=True)
    _every_acknowledged_message_kept(row)
    # Both nodes serve again within 10 s of the promotion, and meanwhile every
    # answer was a stored success or Server.Unavailable: no hang, no error.
    assert row.recover_seconds is not None and row.recover_seconds < 10, row
    assert all(s is not None and s < 10 for s in row.extra["per node recover s"])
    assert row.extra["answers other than ok/Unavailable"] == 0, row
    assert row.extra["tries between cut and recovery"] > 0, row


def test_a_killed_node_leaves_its_messages_to_the_other() -> None:
    row = sc.node_killed(COUNT)
    _every_acknowledged_message_kept(row)
    assert row.recover_seconds is not None and row.recover_seconds < 5, row
    # A carrier sees a message twice only if A had it in flight when killed.
    assert row.carrier_duplicates <= COUNT // 3, row


def test_a_node_cut_off_from_the_database_answers_unavailable_in_time() -> None:
    row = sc.partitioned(COUNT)
    _every_acknowledged_message_kept(row)
    assert row.extra["B answers while cut"] == [sc.UNAVAILABLE], row
    assert row.extra["B longest answer s"] <= row.extra["store timeout s"] + 1.0, row
    assert row.extra["A successes while cut"] > 0, row
    assert row.recover_seconds is not None and row.recover_seconds < 10, row
