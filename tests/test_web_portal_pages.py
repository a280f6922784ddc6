"""The portal's pages through the test client: what each shows, that they go
through SOAP's use cases (same answers, same files as `soapsms report`), and
that bad input gets a message on the page, never a traceback."""

from __future__ import annotations

import io
import json
import re
from collections.abc import Iterator
from dataclasses import fields
from datetime import timedelta

import pytest

from soapsms.usecases import accounts, reports
from soapsms.usecases.dispatching.receipts import InboundIn, record_inbound
from soapsms.usecases.query import cancel_messages, get_status
from soapsms.usecases.requests import Selector
from soapsms.usecases.results import MessageStatus
from soapsms.usecases.runtime import Runtime
from tests.dispatch_helpers import acme_runtime, send_to
from tests.web_helpers import Portal, text_of


@pytest.fixture
def rt(db_url: str) -> Iterator[Runtime]:
    with acme_runtime(db_url) as runtime:
        accounts.set_fields(runtime, "acme", default_sender="15550001111")
        yield runtime


@pytest.fixture
def portal(rt: Runtime) -> Portal:
    signed_in = Portal(rt)
    assert signed_in.log_in().status_code == 302
    return signed_in


def _send(portal: Portal, **form: str) -> str:
    response = portal.post("/portal/send", {"text": "hello", **form})
    assert response.status_code == 200, text_of(response)
    return text_of(response)


def test_send_answers_as_soap_would(rt: Runtime, portal: Portal) -> None:
    page = _send(
        portal,
        recipients="+17036069996\r\n+447700900123, 12, +17036069996",
        client_reference="T-1",
    )
    assert "2 accepted, 2 rejected" in page
    assert "12 INVALID_NUMBER" in page and "+17036069996 DUPLICATE" in page
    batch_id = re.search(r"Batch ([0-9A-Z]{26})", page)
    assert batch_id is not None
    stored = get_status(rt, accounts.get(rt, "acme"), Selector(batch_id=batch_id[1]))
    assert {m.recipient for m in stored} == {"+17036069996", "+447700900123"}
    # The same reference and content again: SOAP's replay, nothing new.
    again = _send(
        portal,
        recipients="+17036069996\r\n+447700900123, 12, +17036069996",
        client_reference="T-1",
    )
    assert "Already sent" in again and batch_id[1] in again


def test_send_keeps_the_line_breaks_the_counter_counted(
    rt: Runtime, portal: Portal
) -> None:
    page = _send(portal, recipients="+17036069996", text="a\r\nb" * 80)
    # 80 x 3 characters with LF breaks: 240 septets, two parts (CR LF: 320, three).
    assert re.search(r"\+17036069996 QUEUED 2 GSM7", page), page


@pytest.mark.parametrize(
    ("form", "said"),
    [
        ({"recipients": ""}, "give at least one recipient"),
        ({"recipients": "+17036069996", "text": ""}, "Text must not be empty"),
        ({"recipients": "12, 34"}, "Nothing was sent"),
        ({"recipients": "+17036069996", "validity": "soon"}, "Validity: 'soon'"),
        ({"recipients": "+17036069996", "validity": "0"}, "Validity must be 1 to"),
        ({"recipients": "+17036069996", "scheduled_for": "tomorrow"}, "Schedule:"),
        ({"recipients": "+17036069996", "sender": "much-too-long-sender"}, "ender"),
        ({"recipients": "+17036069996", "encoding": "GSM7", "text": "Привет"}, "GSM7"),
        ({"recipients": "+17036069996", "encoding": "EBCDIC"}, "EBCDIC"),
    ],
)
def test_bad_send_input_is_said_on_the_form(
    portal: Portal, form: dict[str, str], said: str
) -> None:
    response = portal.post("/portal/send", {"text": "hello", **form})
    page = text_of(response)
    assert response.status_code == 400
    assert "Nothing was sent" in page and said in page, page
    assert "Traceback" not in page
    # What was typed stays in the form.
    assert form.get("recipients", "") in response.get_data(as_text=True)


@pytest.mark.parametrize(
    ("query", "said"),
    [
        ("status=LOST", "LOST"),
        ("since=2026-13-45", "From: '2026-13-45' is not a date"),
        ("until=yesterday", "To: 'yesterday' is not a date"),
        ("recipient=abc", "'abc' is not a valid number"),
        ("cursor=bogus", "Cursor is not valid"),
    ],
)
def test_bad_list_filters_are_said_on_the_page(
    portal: Portal, query: str, said: str
) -> None:
    response = portal.get(f"/portal/messages?{query}")
    assert response.status_code == 400
    assert said in text_of(response)


def test_the_list_filters_and_pages_newest_first(rt: Runtime, portal: Portal) -> None:
    first = send_to(rt, "acme", *(f"+1703606{n:04d}" for n in range(60)))
    send_to(rt, "acme", "+447700900123", client_reference="other")
    page = portal.get(f"/portal/messages?batch={first.batch_id}")
    ids = re.findall(r'data-message="([0-9A-Z]{26})"', page.get_data(as_text=True))
    assert len(ids) == 50 and ids == sorted(ids, reverse=True)
    older = re.search(r'href="([^"]+)" rel="next"', page.get_data(as_text=True))
    assert older is not None
    rest = portal.get(older[1].replace("&amp;", "&"))
    more = re.findall(r'data-message="([0-9A-Z]{26})"', rest.get_data(as_text=True))
    assert len(more) == 10 and not set(more) & set(ids)
    assert 'rel="next"' not in rest.get_data(as_text=True)
    by_reference = text_of(portal.get("/portal/messages?client_reference=other"))
    assert "+447700900123" in by_reference and "+17036060001" not in by_reference
    by_recipient = text_of(portal.get("/portal/messages?recipient=%2B17036060007"))
    assert "+17036060007" in by_recipient and "+17036060008" not in by_recipient
    none_yet = text_of(portal.get("/portal/messages?status=DELIVERED"))
    assert "No messages match." in none_yet
    today = rt.now().date()
    old = text_of(portal.get(f"/portal/messages?until={today - timedelta(days=1)}"))
    assert "No messages match." in old


def test_the_message_page_shows_every_status_field(rt: Runtime, portal: Portal) -> None:
    sent = send_to(rt, "acme", "+17036069996", client_reference="R-9")
    message_id = sent.messages[0].message_id
    html = portal.get(f"/portal/messages/{message_id}").get_data(as_text=True)
    (status,) = get_status(rt, accounts.get(rt, "acme"), Selector((message_id,)))
    for f in fields(MessageStatus):
        shown = f'data-field="{f.name}"' in html
        assert shown == (getattr(status, f.name) is not None), f.name
    assert "Cancel this message" in html


def test_cancel_a_scheduled_message_refunds_it(rt: Runtime, portal: Portal) -> None:
    accounts.set_credits(rt, "acme", balance=10)
    later = (rt.now() + timedelta(days=2)).strftime("%Y-%m-%dT%H:%M")
    page = _send(portal, recipients="+17036069996", scheduled_for=later)
    assert "SCHEDULED" in page
    assert accounts.get(rt, "acme").credits == 9
    message_id = re.search(r"([0-9A-Z]{26}) \+17036069996", page)
    assert message_id is not None
    done = portal.post(f"/portal/messages/{message_id[1]}/cancel")
    assert done.status_code == 302
    shown = text_of(portal.get(done.headers["Location"]))
    assert "Cancelled; its credits are refunded." in shown and "CANCELLED" in shown
    assert accounts.get(rt, "acme").credits == 10
    again = portal.post(f"/portal/messages/{message_id[1]}/cancel")
    said = text_of(portal.get(again.headers["Location"]))
    assert "Not cancelled: it is CANCELLED already." in said


def test_cancel_a_batchs_unsent_messages(rt: Runtime, portal: Portal) -> None:
    later = rt.now() + timedelta(days=2)
    sent = send_to(rt, "acme", "+17036069996", "+17036069997", scheduled_for=later)
    done = portal.post(f"/portal/batches/{sent.batch_id}/cancel")
    page = text_of(portal.get(done.headers["Location"]))
    assert "2 messages cancelled" in page and page.count("CANCELLED") == 2
    again = portal.post(f"/portal/batches/{sent.batch_id}/cancel")
    assert "0 messages cancelled" in text_of(portal.get(again.headers["Location"]))


@pytest.mark.parametrize("kind", ["messages", "days", "months"])
@pytest.mark.parametrize("fmt", ["csv", "json"])
def test_downloads_are_soapsms_reports(
    rt: Runtime, portal: Portal, kind: str, fmt: str
) -> None:
    send_to(rt, "acme", "+17036069996", "+447700900123", client_reference="a")
    send_to(rt, "acme", "+33612345678")
    today = rt.now().date()
    since = today - timedelta(days=3)
    response = portal.get(
        f"/portal/reports/download?since={since}&until={today}&kind={kind}&format={fmt}"
    )
    assert response.status_code == 200
    assert "attachment" in response.headers["Content-Disposition"]
    expected = io.StringIO()
    rng = reports.ReportRange("acme", since, today)
    by = {"days": "day", "months": "month"}.get(kind)
    reports.write(rt, rng, expected, fmt, summarize=by is not None, by=by or "day")
    assert response.get_data(as_text=True) == expected.getvalue()
    if kind == "months":
        assert f"{today:%Y-%m}" in expected.getvalue()
    if fmt == "json":
        assert len(json.loads(expected.getvalue())) == (3 if kind == "messages" else 1)


@pytest.mark.parametrize(
    ("query", "said"),
    [
        ("zone=Mars/Olympus", "unknown time zone 'Mars/Olympus'"),
        ("since=2026-05-02&until=2026-05-01", "--until is before --since"),
        ("since=someday", "From: 'someday' is not a date"),
    ],
)
def test_bad_report_input_is_said_on_the_page(
    portal: Portal, query: str, said: str
) -> None:
    for path in ("/portal/reports", "/portal/reports/download"):
        response = portal.get(f"{path}?{query}")
        assert response.status_code == 400
        assert said in text_of(response), path
    week = portal.get("/portal/reports?by=week")
    assert "by day or month, not 'week'" in text_of(week)


def test_bad_download_kinds_are_said(portal: Portal) -> None:
    for query, said in [("format=xml", "csv or json"), ("kind=x", "messages, days or months")]:
        response = portal.get(f"/portal/reports/download?{query}")
        assert response.status_code == 400 and said in text_of(response)


def test_reports_by_month_sum_the_days(rt: Runtime, portal: Portal) -> None:
    send_to(rt, "acme", "+17036069996", "+447700900123")
    today = rt.now().date()
    month = today.strftime("%Y-%m")
    page = text_of(portal.get(f"/portal/reports?by=month&since={today}&until={today}"))
    assert re.search(rf"{month} 2 0 0 0 2 2 0 0", page), page


def test_the_dashboard_counts(rt: Runtime, portal: Portal) -> None:
    accounts.set_credits(rt, "acme", balance=100)
    send_to(rt, "acme", "+17036069996", "+447700900123")
    later = rt.now() + timedelta(days=1)
    scheduled = send_to(rt, "acme", "+17036069998", scheduled_for=later)
    portal.post(f"/portal/messages/{scheduled.messages[0].message_id}/cancel")
    html = portal.get("/portal/").get_data(as_text=True)
    today = html.split('data-window="1"')[1].split("</dl>")[0]
    figures = dict(re.findall(r'data-figure="(\w+)">([^<]*)<', today))
    assert figures["sent"] == "3" and figures["pending"] == "2"
    assert figures["cancelled"] == "1" and figures["rate"] == "—"
    assert '<strong id="credits">98</strong>' in html
    assert html.count('<rect class="pending"') == 1


def test_inbound_shows_replies_to_the_accounts_numbers_only(
    rt: Runtime, portal: Portal
) -> None:
    now = rt.now()
    record_inbound(
        rt,
        [
            InboundIn("simulator", "+17036069996", "15550001111", "STOP", now),
            InboundIn("simulator", "+17036069997", "+15550001111", "yes", now),
            InboundIn("simulator", "+17036069998", "15559999999", "not yours", now),
        ],
    )
    page = text_of(portal.get("/portal/inbound"))
    assert "STOP" in page and "yes" in page and "not yours" not in page


def test_settings_show_the_account_and_regenerate_the_secret(
    rt: Runtime, portal: Portal
) -> None:
    accounts.set_networks(rt, "acme", ["127.0.0.0/8"])
    before = accounts.callback_secret(rt, "acme")
    assert before is not None
    page = portal.get("/portal/settings").get_data(as_text=True)
    assert before in page and "127.0.0.0/8" in page and "15550001111" in page
    done = portal.post("/portal/settings/callback-secret")
    after = accounts.callback_secret(rt, "acme")
    assert after not in (None, before)
    assert after in portal.get(done.headers["Location"]).get_data(as_text=True)


@pytest.mark.parametrize(
    ("form", "said"),
    [
        ({"current": "wrong", "new": "x1", "repeat": "x1"}, "wrong password"),
        ({"current": "s3cret", "new": "x1", "repeat": "x2"}, "repetition differ"),
        ({"current": "s3cret", "new": "", "repeat": ""}, "1 to 128 characters"),
    ],
)
def test_bad_password_changes_are_said(
    rt: Runtime, portal: Portal, form: dict[str, str], said: str
) -> None:
    response = portal.post("/portal/settings/password", form)
    assert response.status_code in (400, 429)
    assert said in text_of(response)
    assert Portal(rt).log_in().status_code == 302  # unchanged


def test_unknown_pages_and_ids_are_not_found(portal: Portal) -> None:
    for path in (
        "/portal/nothing",
        "/portal/messages/not-an-id",
        "/portal/batches/01ARZ3NDEKTSV4RRFFQ69G5FAV",
    ):
        response = portal.get(path)
        assert response.status_code == 404 and "Not found" in text_of(response)


def test_a_store_failure_is_a_page_not_a_traceback(
    rt: Runtime, portal: Portal, monkeypatch: pytest.MonkeyPatch
) -> None:
    from soapsms.usecases import portal as uc

    def broken(*args: object) -> None:
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(uc, "dashboard", broken)
    response = portal.get("/portal/")
    assert response.status_code == 500
    page = text_of(response)
    assert "Something went wrong" in page and "disk on fire" not in page


def test_static_files_are_served(rt: Runtime) -> None:
    for name in ("web.css", "counter.js"):
        response = Portal(rt).get(f"/static/{name}")
        try:  # no login needed
            assert response.status_code == 200 and response.data
        finally:
            response.close()


@pytest.mark.parametrize(
    "zone", ["UTC", "America/New_York", "Pacific/Kiritimati", "Asia/Kolkata"]
)
def test_the_page_summary_is_soapsms_reports(db_url: str, zone: str) -> None:
    from soapsms.usecases import portal as uc
    from tests.dispatch_helpers import MovableClock

    clock = MovableClock()
    with acme_runtime(db_url, clock) as rt:
        accounts.set_credits(rt, "acme", balance=1000)
        for hours in (-80, -51, -30, -23, -5, -1):
            clock.offset = timedelta(hours=hours)
            send_to(rt, "acme", "+17036069996", "+447700900123", text="x" * 200)
        clock.offset = timedelta()
        later = send_to(
            rt, "acme", "+17036069990", scheduled_for=rt.now() + timedelta(1)
        )
        acme = accounts.get(rt, "acme")
        assert cancel_messages(rt, acme, Selector(batch_id=later.batch_id))
        today = rt.now().date()
        rng = reports.ReportRange("acme", today - timedelta(days=5), today, zone)
        assert uc.daily_summary(rt, rng) == reports.summary(rt, rng)
        assert len(reports.summary(rt, rng)) >= 3


def test_an_unreachable_store_is_said_as_such(
    rt: Runtime, portal: Portal, monkeypatch: pytest.MonkeyPatch
) -> None:
    from soapsms.errors import Unavailable
    from soapsms.usecases import portal as uc

    def down(*args: object) -> None:
        raise Unavailable("store unreachable: connection refused")

    monkeypatch.setattr(uc, "inbound", down)
    response = portal.get("/portal/inbound")
    assert response.status_code == 503
    assert "cannot reach its store" in text_of(response)
    assert "connection refused" not in text_of(response)
