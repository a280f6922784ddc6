"""The smpp connector's flow control: the window of outstanding submits, and mps."""

from __future__ import annotations

import threading
from concurrent.futures import Future
from typing import Any

from soapsms.dispatch.connectors.base import SubmitResult
from tests.smsc.esme import connector, submission
from tests.smsc.fault import Conn, FaultSmsc, wait_until


def test_window_is_never_exceeded_and_blocks_only_while_full() -> None:
    with (
        FaultSmsc(lambda conn, pdu: conn.hold(pdu)) as smsc,
        connector(smsc.port, window="4") as carrier,
    ):
        futures: list[Future[SubmitResult]] = []

        def submit_all() -> None:
            for _ in range(10):
                futures.append(carrier.submit(submission()))

        caller = threading.Thread(target=submit_all)
        caller.start()
        conn = smsc.current
        wait_until(lambda: len(conn.held) == 4, what="a full window")
        wait_until(lambda: len(futures) == 4, what="four submit() calls back")
        # The fifth call waits for a slot while nothing is answered.
        assert caller.is_alive() and len(conn.held) == 4
        while caller.is_alive() or conn.held:
            wait_until(lambda: conn.held or not caller.is_alive(), what="more")
            conn.release_held()
        caller.join(5)
        results = [f.result(5) for f in futures]
    assert len(results) == 10 and all(r.accepted for r in results)
    assert smsc.max_unanswered == 4


def test_a_message_longer_than_the_window_flows_through_it() -> None:
    def answer_later(conn: Conn, pdu: Any) -> None:
        # Answer from another thread, as a real SMSC's queue would.
        threading.Timer(0.01, conn.accept, (pdu,)).start()

    with FaultSmsc(answer_later) as smsc, connector(smsc.port, window="2") as carrier:
        result = carrier.submit(submission("x" * 1000)).result(5)
    assert result.accepted and len(result.carrier_ids) == 7
    assert smsc.max_unanswered <= 2


def test_messages_per_second_are_respected() -> None:
    mps, count = 40, 30
    with FaultSmsc() as smsc, connector(smsc.port, mps=str(mps)) as carrier:
        futures = [carrier.submit(submission()) for _ in range(count)]
        assert all(f.result(5).accepted for f in futures)
    times = [s.at for s in smsc.submits]
    # Any k PDUs in a row take at least (k - 1) / mps (a little slack for the
    # scheduling between our send and the SMSC's clock).
    slack = 0.05
    assert times[-1] - times[0] >= (count - 1) / mps - slack
    for k in (5, 10, 20):
        spans = [b - a for a, b in zip(times, times[k - 1 :], strict=False)]
        assert min(spans) >= (k - 1) / mps - slack
    # And not much slower than asked.
    assert times[-1] - times[0] < (count - 1) / mps + 0.5


def test_mps_counts_parts() -> None:
    mps = 20
    with FaultSmsc() as smsc, connector(smsc.port, mps=str(mps)) as carrier:
        assert carrier.submit(submission("x" * 600)).result(5).accepted
    times = [s.at for s in smsc.submits]
    assert len(times) == 4
    assert times[-1] - times[0] >= 3 / mps - 0.01
