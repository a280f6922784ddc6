"""The SNPP ingress over a raw socket: every command, every reply code, and what
a SEND stores as seen over SOAP."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone

import pytest
import zeep

from soapsms import metrics
from soapsms.config import ConnectorConfig, Routes
from soapsms.dispatch.connectors.simulator import SimulatorConnector, SimulatorOptions
from soapsms.dispatch.worker import Dispatcher
from soapsms.snpp_ingress.holdtime import parse_hold
from soapsms.snpp_ingress.lines import MAX_LINE_BYTES
from soapsms.snpp_ingress.session import MAX_ERRORS
from soapsms.usecases import accounts
from soapsms.usecases.runtime import Runtime
from tests.conftest import LiveServer
from tests.dispatch_helpers import acme_runtime, message, running, wait_for
from tests.snpp_helpers import Client, code, ingress
from tests.soap_helpers import AUTH

US_ONLY = Routes(
    connectors=(ConnectorConfig("primary", "simulator"),),
    table=(("+1", ("primary",)),),
)
SENT = re.compile(
    r"250 Message Sent Successfully: batch (\w+), (\d+) message\(s\); "
    r"MSTA tag ([\d-]+), pass code (\d{6})"
)


@pytest.fixture
def rt(request: pytest.FixtureRequest, sqlite_url: str) -> Iterator[Runtime]:
    """SQLite, and PostgreSQL too for the tests that ask for db_url: the rules
    are the use case's, tested on both stores; these tests are about SNPP."""
    url = (
        request.getfixturevalue("db_url")
        if "db_url" in request.fixturenames
        else sqlite_url
    )
    with acme_runtime(url, routes=US_ONLY, login_failures_per_window=3) as runtime:
        yield runtime


@pytest.fixture
def snpp(rt: Runtime) -> Iterator[int]:
    with ingress(rt) as listener:
        yield listener.port


@pytest.fixture
def soap(rt: Runtime) -> Iterator[zeep.Client]:
    with LiveServer(rt) as live:
        yield zeep.Client(f"{live.url}/soap?wsdl")


def _stored(soap: zeep.Client) -> list:
    page = soap.service.ListMessages(Auth=AUTH)
    return page.Messages.MessageStatus if page.Messages else []


def _page(client: Client, *numbers: str, text: str = "Server web01 is down") -> str:
    assert client.login() == "250 Login Accepted"
    for number in numbers:
        assert client.cmd(f"PAGE {number}") == "250 Pager ID Accepted"
    assert client.cmd(f"MESS {text}") == "250 Message OK"
    return client.cmd("SEND")


def test_greeting_help_and_quit(snpp):
    with Client(snpp) as client:
        assert code(client.greeting) == 220
        help_lines = client.lines("HELP")
        assert all(line.startswith("214 ") for line in help_lines[:-1])
        assert any("MSTA" in line for line in help_lines)
        assert help_lines[-1] == "250 End of Help Information"
        assert client.cmd("QUIT") == "221 OK, Goodbye"
        assert client.line() == ""  # the gateway closed the connection


def test_several_pages_are_one_batch(db_url, snpp, soap):
    with Client(snpp) as client:
        reply = _page(client, "17036069996", "+1-703-606-9997")
    match = SENT.fullmatch(reply)
    assert match, reply
    assert match.group(2) == "2" and match.group(3) == "1-2"
    stored = _stored(soap)
    assert {m.Recipient for m in stored} == {"+17036069996", "+17036069997"}
    assert {m.BatchId for m in stored} == {match.group(1)}
    assert metrics.get().registry.get_sample_value(
        "soapsms_snpp_sends_total", {"outcome": "accepted"}
    )


def test_data_subject_and_dot_stuffing(rt, snpp, soap):
    with Client(snpp) as client:
        client.login()
        assert client.cmd("PAGE 17036069996") == "250 Pager ID Accepted"
        assert client.cmd("SUBJ web01") == "250 Message Subject OK"
        assert client.cmd("DATA") == "354 Begin Input; End with <CRLF>'.'<CRLF>"
        client.send_raw(b"Server is down\r\n..since 10:00\r\n.\r\n")
        assert client.line() == "250 Message OK"
        assert client.cmd("MESS again") == "503 ERROR, Message Already Entered"
        assert client.cmd("DATA") == "503 ERROR, Message Already Entered"
        assert SENT.fullmatch(client.cmd("SEND"))
    [status] = _stored(soap)
    assert status.Status == "QUEUED"
    # The contract's status carries no text; the store has it.
    assert message(rt, status.MessageId).text == "web01: Server is down\n.since 10:00"


@pytest.mark.parametrize(
    ("hold", "offset"),
    [
        ("{:%y%m%d%H%M%S} -0500", timedelta(hours=-5)),
        ("{:%y%m%d%H%M%S}+0130", timedelta(hours=1, minutes=30)),
        ("{:%Y%m%d%H%M%S} +00", timedelta()),
        ("{:%y%m%d%H%M}", None),  # no seconds, no offset: the gateway's local time
    ],
)
def test_hold_schedules_the_message(snpp, soap, hold, offset):
    local = datetime.now(UTC) + timedelta(days=2)
    if offset is not None:
        local = local.astimezone(timezone(offset))
    else:
        local = local.astimezone()
    with Client(snpp) as client:
        client.login()
        assert (
            client.cmd("HOLD " + hold.format(local)) == "250 Delayed Messaging Selected"
        )
        client.cmd("PAGE 17036069996")
        client.cmd("MESS later")
        assert SENT.fullmatch(client.cmd("SEND"))
    [message] = _stored(soap)
    assert message.Status == "SCHEDULED"
    wanted = local.astimezone(UTC).replace(tzinfo=None)
    if "%S" not in hold:
        wanted = wanted.replace(second=0)
    scheduled = message.ScheduledFor.astimezone(UTC).replace(tzinfo=None)
    assert abs(scheduled - wanted.replace(microsecond=0)) < timedelta(seconds=1)


@pytest.mark.parametrize(
    "hold", ["tomorrow", "2612", "261399000000", "261201000000 +2500"]
)
def test_hold_refuses_other_forms(snpp, hold):
    with Client(snpp) as client:
        assert client.cmd(f"HOLD {hold}").startswith(
            "550 Error, Invalid Delivery Date/Time"
        )


@pytest.mark.parametrize(
    ("command", "reply"),
    [
        ("LEVE 5", "250 OK, Alternate Service Level Accepted"),
        ("LEVE 12", "550 Error, Invalid Service Level"),
        ("ALER 1", "250 OK, Alert Override Accepted"),
        ("ALER yes", "550 Error, Invalid Alert Parameter"),
        ("COVE 2", "250 OK, Alternate Coverage Selected"),
        ("COVE", "550 Error, Invalid Alternate Region"),
        ("CALL 5551234", "250 Caller ID Accepted"),
        ("CALL", "550 Error, Invalid Caller ID"),
        ("SUBJ", "550 Error, Invalid Message: the subject is empty"),
        ("PAGE", "550 Error, Invalid Pager ID: give a phone number"),
        ("MESS", "550 Error, Invalid Message: the message is empty"),
        ("SEND", "503 Error, Pager ID or Message Incomplete"),
        ("RESE", "250 RESET OK"),
        ("MSTA 1 123456", "550 Error, Unknown or Illegal Message_Tag or Pass_Code"),
        ("MSTA", "550 Error, Unknown or Illegal Message_Tag or Pass_Code"),
        ("2WAY", "500 Command Not Implemented"),
        ("XYZZY", "500 Command Not Implemented"),
        ("pager 17036069996", "250 Pager ID Accepted"),  # any case, long names
    ],
)
def test_single_commands(snpp, command, reply):
    with Client(snpp) as client:
        assert client.cmd(command) == reply


def test_send_needs_a_login_and_keeps_the_transaction(snpp, soap):
    with Client(snpp) as client:
        client.cmd("PAGE 17036069996")
        client.cmd("MESS hello")
        assert client.cmd("SEND") == (
            "503 Error, Login Required: send LOGI <account> <password> first"
        )
        assert client.login() == "250 Login Accepted"
        assert SENT.fullmatch(client.cmd("SEND"))
        # The transaction is over: a new one needs its own PAGE and message.
        assert client.cmd("SEND") == "503 Error, Pager ID or Message Incomplete"
    assert len(_stored(soap)) == 1


def test_rese_clears_the_transaction(snpp):
    with Client(snpp) as client:
        client.login()
        client.cmd("PAGE 17036069996")
        client.cmd("MESS hello")
        assert client.cmd("RESE") == "250 RESET OK"
        assert client.cmd("SEND") == "503 Error, Pager ID or Message Incomplete"


@pytest.mark.parametrize(
    ("numbers", "text", "reply"),
    [
        (
            ["17036069996", "12"],
            "hello",
            "550 Error, Invalid Pager ID: recipient '12': not a valid phone number",
        ),
        (
            ["+447700900123"],
            "hello",
            "550 Error, Invalid Pager ID: recipient '+447700900123': no route "
            "serves this number",
        ),
        (["17036069996"], "x" * 1600, "550 Error, Invalid Message: "),
    ],
)
def test_refused_sends_store_nothing(db_url, snpp, soap, numbers, text, reply):
    with Client(snpp) as client:
        assert _page(client, *numbers, text=text).startswith(reply)
    assert _stored(soap) == []


def test_blocked_number_refuses_the_send(db_url, rt, snpp, soap):
    accounts.block(rt, "acme", ["+17036069997"])
    with Client(snpp) as client:
        reply = _page(client, "17036069996", "17036069997")
    assert reply == (
        "550 Error, Invalid Pager ID: recipient '17036069997': blocked for this account"
    )
    assert _stored(soap) == []


def test_too_many_pagers_for_the_account(rt, snpp, soap):
    accounts.set_fields(rt, "acme", max_recipients=1)
    with Client(snpp) as client:
        assert _page(client, "17036069996", "17036069997").startswith(
            "552 Maximum Entries Exceeded: 2 recipients given"
        )
    assert _stored(soap) == []


def test_no_credit(rt, snpp, soap):
    accounts.set_credits(rt, "acme", balance=0)
    with Client(snpp) as client:
        assert _page(client, "17036069996").startswith(
            "550 Error, Insufficient Credit: 1 credits needed, 0 available"
        )
    assert _stored(soap) == []


def test_disabled_account_cannot_log_in(rt, snpp):
    accounts.set_disabled(rt, "acme", True)
    with Client(snpp) as client:
        assert client.login() == "550 Error, Access Denied: the account is disabled"


def test_failed_logins_share_the_soap_throttle(snpp, soap):
    with Client(snpp) as client:
        for _ in range(2):
            assert client.login(password="wrong") == (
                "550 Error, Invalid Login: unknown account or wrong password"
            )
        # The third failure reaches the limit (3 in the window): the gateway
        # hangs up, and for a while not even the right password is checked.
        assert client.login(password="wrong") == (
            "421 Too Many Failed Logins, Goodbye; try again later"
        )
        assert client.line() == ""
    with Client(snpp) as client:
        assert client.login().startswith("421 Too Many Failed Logins")
    # The same throttle refuses SOAP from this address.
    with pytest.raises(zeep.exceptions.Fault) as fault:
        soap.service.GetAccount(Auth=AUTH)
    assert fault.value.code.endswith("Client.AuthenticationFailed")


def test_msta_follows_a_message_to_delivered(rt, snpp):
    simulator = SimulatorConnector(
        "primary",
        SimulatorOptions(
            submit_latency=0.001,
            receipt_delay=(0.05, 0.2),
            seed=7,
            rejected_rate=0.0,
            undelivered_rate=0.0,
        ),
    )
    with Client(snpp) as client:
        match = SENT.fullmatch(_page(client, "17036069996"))
        assert match
        tag, pass_code = match.group(3), match.group(4)
        queued = client.cmd(f"MSTA {tag} {pass_code}")
        assert re.fullmatch(
            rf"960 {tag} \d{{12}}\+0000 OK, Message QUEUED for Delivery \(QUEUED\)",
            queued,
        ), queued
        wrong = f"{(int(pass_code) + 1) % 10**6:06d}"
        assert client.cmd(f"MSTA {tag} {wrong}").startswith("550 ")
        with running(Dispatcher(rt, {"primary": simulator}, callbacks=False)):
            wait_for(lambda: client.cmd(f"MSTA {tag} {pass_code}").startswith("880"))
        delivered = client.cmd(f"MSTA {tag} {pass_code}")
    assert re.fullmatch(
        rf"880 {tag} \d{{12}}\+0000 Message Delivered \(DELIVERED\)", delivered
    )


def test_msta_tags_belong_to_the_session(snpp):
    with Client(snpp) as first:
        match = SENT.fullmatch(_page(first, "17036069996"))
        assert match
    with Client(snpp) as second:
        second.login()
        assert second.cmd(f"MSTA {match.group(3)} {match.group(4)}").startswith("550 ")


def test_idle_session_times_out(rt):
    with ingress(rt, idle_timeout=0.3) as listener, Client(listener.port) as client:
        assert client.line() == "421 Timeout, Goodbye"
        assert client.line() == ""


def test_oversize_line_is_refused_and_the_session_goes_on(snpp):
    with Client(snpp) as client:
        reply = client.cmd("MESS " + "x" * MAX_LINE_BYTES)
        assert reply == f"500 Error, Line Too Long (at most {MAX_LINE_BYTES} bytes)"
        assert client.cmd("RESE") == "250 RESET OK"


def test_oversize_data_is_refused(snpp):
    with Client(snpp) as client:
        assert client.cmd("DATA").startswith("354")
        client.send_raw(b"".join(b"x" * 1000 + b"\r\n" for _ in range(20)) + b".\r\n")
        assert client.line() == "550 Error, Invalid Message: longer than 16384 bytes"
        assert client.cmd("MESS fits") == "250 Message OK"


def test_too_many_errors_end_the_session(snpp):
    with Client(snpp) as client:
        for _ in range(MAX_ERRORS - 1):
            assert client.cmd("XYZZY") == "500 Command Not Implemented"
        assert client.cmd("XYZZY") == "500 Command Not Implemented"
        assert client.line() == "421 Too Many Errors, Goodbye"
        assert client.line() == ""


def test_an_account_change_after_logi_is_seen_at_send(rt, snpp, soap):
    with Client(snpp) as client:
        assert client.login() == "250 Login Accepted"
        # Another setting changed: the login is checked again and still holds.
        accounts.set_fields(rt, "acme", name="ACME Inc")
        assert SENT.fullmatch(_page(client, "17036069996"))
        # The password changed: the login no longer holds, nothing is sent.
        accounts.set_password(rt, "acme", "n3w-secret")
        client.cmd("PAGE 17036069997")
        client.cmd("MESS hello")
        assert client.cmd("SEND") == (
            "550 Error, Invalid Login: unknown account or wrong password"
        )
        assert client.cmd("SEND") == (
            "503 Error, Login Required: send LOGI <account> <password> first"
        )
    page = soap.service.ListMessages(Auth={**AUTH, "Password": "n3w-secret"})
    assert [m.Recipient for m in page.Messages.MessageStatus] == ["+17036069996"]


@pytest.mark.parametrize(
    ("value", "wanted"),
    [
        ("261231235959+0000", datetime(2026, 12, 31, 23, 59, 59)),
        ("261231235959 -0600", datetime(2027, 1, 1, 5, 59, 59)),
        ("2612312359 +05", datetime(2026, 12, 31, 18, 59)),
        ("20261231235959+0130", datetime(2026, 12, 31, 22, 29, 59)),
        ("991231235959+0000", datetime(1999, 12, 31, 23, 59, 59)),
    ],
)
def test_hold_times(value, wanted):
    assert parse_hold(value).astimezone(UTC).replace(tzinfo=None) == wanted


def test_hold_without_offset_is_the_gateways_local_time():
    assert parse_hold("261231235959") == datetime(2026, 12, 31, 23, 59, 59).astimezone()


@pytest.mark.parametrize(
    ("setting", "connections", "what"),
    [
        ("snpp_rate_per_connection", 1, "on this connection"),
        ("snpp_rate_per_account", 2, "for this account"),
    ],
)
def test_sends_a_minute_are_limited(rt, soap, setting, connections, what):
    limited = Runtime(rt.settings.replace(**{setting: 2}), engine=rt.engine)
    replies = []
    with ingress(limited) as listener:
        clients = [Client(listener.port) for _ in range(connections)]
        for client in clients:
            client.login()
        for index in range(3):
            replies.append(_page(clients[index % connections], "17036069996"))
        for client in clients:
            client.close()
    assert [code(reply) for reply in replies] == [250, 250, 554]
    assert replies[2] == (
        f"554 Error, failed (rate limit): more than 2 SENDs a minute {what}; "
        "try again later"
    )
    assert len(_stored(soap)) == 2
