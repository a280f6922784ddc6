"""Bad input on the web pages, as an outsider sends it: NUL bytes, dates at
the calendar's ends, odd digits, numbers past a column's range, fuzzed form
fields. Each gets a 400 with a sentence on the page, never a 500, and
nothing is stored; on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from soapsms.usecases import accounts, operators
from soapsms.usecases.operators import Actor
from soapsms.usecases.runtime import Runtime
from tests.dispatch_helpers import acme_runtime
from tests.web_helpers import Portal, signed_in, text_of

NUMBER = "+17036069996"
NUL = "a field holds a NUL character"
# (query string or path, what the page says); each was a 500 before.
PORTAL_GETS = [
    ("/portal/messages?until=9999-12-31", "To: '9999-12-31' is out of range"),
    ("/portal/messages?since=0001-01-01", "From: '0001-01-01' is out of range"),
    ("/portal/reports?until=9999-12-31", "To: '9999-12-31' is out of range"),
    ("/portal/messages?client_reference=a%00b", NUL),
    ("/portal/messages?batch=%00", NUL),
    ("/portal/messages?recipient=%00", NUL),
    ("/portal/messages/%00", NUL),
    ("/portal/reports?zone=UTC%00", NUL),
    ("/portal/login?next=/portal/%00", NUL),
]
SEND = {"recipients": NUMBER, "text": "hello"}
PORTAL_POSTS = [
    ("/portal/send", {**SEND, "client_reference": "ref\x00"}),
    ("/portal/send", {**SEND, "text": "hel\x00lo"}),
    ("/portal/send", {**SEND, "recipients": NUMBER + "\x00"}),
    ("/portal/send", {**SEND, "sender\x00": "x"}),
    ("/portal/settings/password", {"current": "s3cret", "new": "a\x00" * 8}),
]


@pytest.fixture
def rt(db_url: str) -> Iterator[Runtime]:
    with acme_runtime(db_url) as runtime:
        yield runtime


@pytest.fixture
def portal(rt: Runtime) -> Portal:
    return signed_in(rt)


def _nothing_sent(portal: Portal) -> None:
    assert NUMBER not in text_of(portal.get("/portal/messages"))


@pytest.mark.parametrize(("path", "said"), PORTAL_GETS)
def test_odd_queries_are_said_on_the_page(portal: Portal, path: str, said: str) -> None:
    response = portal.get(path)
    assert response.status_code == 400, text_of(response)
    assert said in text_of(response)


@pytest.mark.parametrize(("path", "form"), PORTAL_POSTS)
def test_a_nul_in_a_form_does_nothing(
    rt: Runtime, portal: Portal, path: str, form: dict[str, str]
) -> None:
    response = portal.post(path, form)
    assert response.status_code == 400
    assert NUL in text_of(response)
    _nothing_sent(portal)
    # The password is unchanged: the old one still logs in.
    assert Portal(rt).log_in().status_code == 302


def test_a_nul_in_the_login_is_refused_before_the_store(rt: Runtime) -> None:
    for account_id, password in (("acme\x00", "s3cret"), ("acme", "s3cret\x00")):
        response = Portal(rt).log_in(account_id, password)
        assert response.status_code == 400
        assert NUL in text_of(response)


@pytest.mark.parametrize("before", ["²", "٣", "9" * 30, "-1", "1e3"])
def test_inbound_paging_with_odd_digits_is_the_first_page(
    rt: Runtime, before: str
) -> None:
    # Numbers of its own, so that the page reads the store.
    accounts.set_fields(rt, "acme", allowed_senders=[NUMBER])
    page = signed_in(rt).get("/portal/inbound", query_string={"before": before})
    assert page.status_code == 200


@given(
    field=st.sampled_from(
        [
            "recipients",
            "text",
            "sender",
            "client_reference",
            "scheduled_for",
            "validity",
            "encoding",
        ]
    ),
    value=st.text(st.characters(blacklist_categories=("Cs",)), max_size=40)
    | st.sampled_from(
        ["9" * 5000, "-1", "9999-12-31T23:59+14:00", "0001-01-01T00:00-14:00", "²"]
    ),
)
@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
def test_fuzzed_send_form_never_fails_the_server(
    portal: Portal, field: str, value: str
) -> None:
    response = portal.post("/portal/send", {**SEND, field: value})
    assert response.status_code in (200, 400), text_of(response)


CLI = Actor("cli", "root", "cli")


def test_console_numbers_and_paging_out_of_range(rt: Runtime) -> None:
    operators.create(rt, CLI, "alice", "correct horse")
    console = Portal(rt)
    assert console.operator_log_in().status_code == 303
    for before in ("²", "9" * 30):
        page = console.get("/admin/audit", query_string={"before": before})
        assert page.status_code == 200
    token = console.token("/admin/")
    changed = console.client.post(
        "/admin/accounts/acme/rate",
        data={"per_minute": "9" * 30, "csrf_token": token},
        environ_base=console.environ,
        follow_redirects=True,
    )
    assert changed.status_code == 200
    assert "a rate limit is 1 to 1000000 messages per minute" in text_of(changed)
    assert accounts.get(rt, "acme").rate_limit_per_minute is None
