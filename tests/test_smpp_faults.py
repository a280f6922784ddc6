"""The smpp connector against our fault-injecting SMSC: drops, throttling, rejections."""

from __future__ import annotations

import itertools
import struct
import threading
from concurrent.futures import Future
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from smpplib import smpp as smpp_pdu

from soapsms.dispatch.connectors.base import SubmitResult
from soapsms.dispatch.connectors.smpp.config import SmppConfig
from soapsms.dispatch.connectors.smpp.connector import _FlowControl
from soapsms.errors import ConnectorDown
from tests.smsc.esme import connector, submission
from tests.smsc.fault import Conn, FaultSmsc, wait_until


def hold(conn: Conn, pdu: Any) -> None:
    conn.hold(pdu)


def test_accepted_message_carries_one_id_per_part() -> None:
    with FaultSmsc() as smsc, connector(smsc.port) as carrier:
        single = carrier.submit(submission()).result(5)
        triple = carrier.submit(submission("x" * 400)).result(5)
    assert single == SubmitResult(True, ("00000001",), parts=((1, "00000001"),))
    ids = ("00000002", "00000003", "00000004")
    assert triple == SubmitResult(True, ids, parts=tuple(enumerate(ids, 1)))


@pytest.mark.parametrize(
    ("command_status", "error_code", "retry"),
    [
        (0x58, "THROTTLED", True),  # ESME_RTHROTTLED
        (0x14, "THROTTLED", True),  # ESME_RMSGQFUL
        (0x08, "NETWORK_ERROR", True),  # ESME_RSYSERR
        (0x45, "CARRIER_REJECTED", False),  # ESME_RSUBMITFAIL
        (0x0B, "UNKNOWN_SUBSCRIBER", False),  # ESME_RINVDSTADR
        (0x50, "ROUTING_ERROR", False),  # ESME_RINVDSTTON: try the contingency
        (0x0A, "CARRIER_REJECTED", False),  # ESME_RINVSRCADR
        (0x0400, "CARRIER_REJECTED", False),  # a vendor code, unmapped
        (0x040B, "ROUTING_ERROR", False),  # a vendor code the route maps
    ],
)
def test_submit_sm_resp_errors(
    command_status: int, error_code: str, retry: bool
) -> None:
    def reject(conn: Conn, pdu: Any) -> None:
        conn.reject(pdu, command_status)

    with (
        FaultSmsc(reject) as smsc,
        connector(
            smsc.port,
            status_map="0x0000040B:ROUTING_ERROR",
            # Throttling is resent, not answered, until this long: not here.
            throttle_give_up_seconds="0",
        ) as carrier,
    ):
        result = carrier.submit(submission()).result(5)
    assert not result.accepted and not result.carrier_ids
    assert (result.error_code, result.retry) == (error_code, retry)
    assert result.carrier_error == f"command_status=0x{command_status:08X}"


def test_multipart_is_accepted_only_if_every_part_is() -> None:
    def reject_second_part(conn: Conn, pdu: Any) -> None:
        if pdu.short_message[5] == 2:  # UDH sequence number
            conn.reject(pdu, 0x45)
        else:
            conn.accept(pdu)

    with FaultSmsc(reject_second_part) as smsc, connector(smsc.port) as carrier:
        result = carrier.submit(submission("x" * 400)).result(5)
    assert (result.accepted, result.error_code, result.retry) == (
        False,
        "CARRIER_REJECTED",
        False,
    )


def test_connection_dropped_mid_window_fails_in_flight_and_reconnects() -> None:
    with FaultSmsc(hold) as smsc, connector(smsc.port) as carrier:
        futures = [carrier.submit(submission()) for _ in range(10)]
        first = smsc.current
        wait_until(lambda: len(first.held) == 10, what="a full window at the SMSC")
        blocked: list[Future[SubmitResult] | Exception] = []

        def eleventh() -> None:
            try:
                blocked.append(carrier.submit(submission()))
            except ConnectorDown as exc:
                blocked.append(exc)

        thread = threading.Thread(target=eleventh)
        thread.start()
        first.drop()
        results = [f.result(5) for f in futures]
        thread.join(5)
        assert {(r.accepted, r.retry, r.error_code) for r in results} == {
            (False, True, "NETWORK_ERROR")
        }
        # Back on a new connection; the caller that waited for a slot either
        # heard the route was down or got in on the new bind.
        wait_until(lambda: carrier.binds == 2 and carrier.is_up(), what="reconnect")
        assert len(blocked) == 1
        smsc.on_submit = lambda conn, pdu: conn.accept(pdu)
        if isinstance(blocked[0], Future):
            smsc.current.release_held()
            assert blocked[0].result(5).accepted
        assert carrier.submit(submission()).result(5).accepted


def test_unanswered_submit_times_out_as_network_error_and_rebinds() -> None:
    with (
        FaultSmsc(hold) as smsc,
        connector(smsc.port, response_timeout_seconds="0.3") as carrier,
    ):
        result = carrier.submit(submission()).result(5)
        assert (result.accepted, result.retry, result.error_code) == (
            False,
            True,
            "NETWORK_ERROR",
        )
        assert result.error_text == "no submit_sm_resp: none within 0.3s"
        # A late answer could not be told from none: that link is given up.
        wait_until(lambda: carrier.binds == 2 and carrier.is_up(), what="rebind")
        assert smsc.conns[0].closed
        # Its slot is free again: the window does not leak.
        smsc.on_submit = lambda conn, pdu: conn.accept(pdu)
        assert all(carrier.submit(submission()).result(5).accepted for _ in range(12))


def test_bind_refused_retries_with_back_off_then_binds() -> None:
    with FaultSmsc(bind_status=0x0E) as smsc:  # ESME_RINVPASWD
        with connector(smsc.port, wait_up=False) as carrier:
            wait_until(lambda: len(smsc.bind_attempts) >= 4, what="bind retries")
            assert not carrier.is_up()
            with pytest.raises(ConnectorDown):
                carrier.submit(submission())
            gaps = [b - a for a, b in itertools.pairwise(smsc.bind_attempts)]
            assert gaps[0] >= 0.03 and max(gaps) >= 0.1  # 0.05 s doubling to 0.2 s
            smsc.bind_status = 0
            wait_until(carrier.is_up, what="bind once the SMSC accepts")
            assert carrier.submit(submission()).result(5).accepted


def test_nothing_listening_is_connector_down() -> None:
    with FaultSmsc() as smsc:
        port = smsc.port
    with connector(port, wait_up=False) as carrier:
        with pytest.raises(ConnectorDown):
            carrier.submit(submission())


def test_enquire_link_keeps_the_link_and_a_silent_smsc_is_left() -> None:
    with FaultSmsc() as smsc:
        with connector(
            smsc.port, enquire_link_seconds="0.05", response_timeout_seconds="0.3"
        ) as carrier:
            wait_until(lambda: smsc.enquire_links >= 3, what="enquire_link")
            assert carrier.binds == 1
            smsc.answer_enquire_link = False
            wait_until(lambda: carrier.binds >= 2, what="reconnect after silence")


def test_smsc_unbind_reconnects() -> None:
    with FaultSmsc() as smsc, connector(smsc.port) as carrier:
        first = smsc.current
        first.send(smpp_pdu.make_pdu("unbind", client=first.seq))
        wait_until(lambda: carrier.binds == 2 and carrier.is_up(), what="rebind")
        assert carrier.submit(submission()).result(5).accepted


def test_stop_waits_for_answers_in_flight_then_unbinds() -> None:
    with FaultSmsc(hold) as smsc:
        with connector(smsc.port) as carrier:
            future = carrier.submit(submission())
            conn = smsc.current
            wait_until(lambda: conn.held, what="the submit at the SMSC")
            stopper = threading.Thread(target=carrier.stop)
            stopper.start()
            wait_until(lambda: not carrier.is_up(), what="stop to begin")
            with pytest.raises(ConnectorDown):
                carrier.submit(submission())
            conn.release_held()
            stopper.join(5)
            assert future.result(0).accepted
            wait_until(lambda: conn.closed, what="unbind")


def test_expired_validity_is_not_sent() -> None:
    with FaultSmsc() as smsc, connector(smsc.port) as carrier:
        now = datetime.now(UTC).replace(tzinfo=None)
        past = replace(submission(), expires_at=now - timedelta(seconds=1))
        result = carrier.submit(past).result(0)
    assert (result.accepted, result.retry, result.error_code) == (
        False,
        False,
        "VALIDITY_EXPIRED",
    )
    assert smsc.submits == []


def test_unknown_command_is_nacked_and_the_link_stays() -> None:
    with FaultSmsc() as smsc, connector(smsc.port) as carrier:
        # command_id 0x00000999 is no SMPP 3.4 request.
        smsc.current.sock.sendall(struct.pack(">LLLL", 16, 0x999, 0, 77))
        wait_until(lambda: smsc.others, what="an answer")
        assert smsc.others == [("generic_nack", 0x03, 77)]  # ESME_RINVCMDID
        assert carrier.submit(submission()).result(5).accepted
        assert carrier.binds == 1


def test_a_broken_stream_is_left_for_a_new_bind() -> None:
    with FaultSmsc() as smsc, connector(smsc.port) as carrier:
        smsc.current.sock.sendall(struct.pack(">L", 5) + b"junk")  # length < 16
        wait_until(lambda: carrier.binds == 2 and carrier.is_up(), what="rebind")
        assert carrier.submit(submission()).result(5).accepted


def test_stop_abandons_what_stays_unanswered_as_network_error() -> None:
    with FaultSmsc(hold) as smsc:
        with connector(smsc.port, response_timeout_seconds="0.3") as carrier:
            future = carrier.submit(submission())
            wait_until(lambda: smsc.current.held, what="the submit at the SMSC")
            carrier.stop()  # waits 0.3 s for the answer, then unbinds
            result = future.result(0)
    assert (result.accepted, result.retry, result.error_code) == (
        False,
        True,
        "NETWORK_ERROR",
    )


@pytest.mark.parametrize(
    ("throttled_of_20", "halved"),
    [(0, False), (6, False), (10, False), (11, True), (20, True)],
)
def test_flow_control_halves_the_window_only_when_most_is_throttled(
    throttled_of_20: int, halved: bool
) -> None:
    # A steady share of throttling costs resends; most of a sample throttled
    # means we send faster than the carrier takes: the window halves, all pause.
    flow = _FlowControl(SmppConfig(host="smsc", system_id="x", window=20))
    resend_at = [flow.throttled(100.0) for _ in range(throttled_of_20)]
    for _ in range(20 - throttled_of_20):
        flow.accepted(100.0)
    assert all(at >= 100.2 for at in resend_at)  # each after its own pause
    assert (flow.slots(), flow.until > 100.0) == ((10, True) if halved else (20, False))
