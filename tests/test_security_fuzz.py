"""Mutated envelopes of every operation: no 500 but Server.Unavailable, nothing
stored unless the answer was a success, the gateway still answering (issue
14, item 6). 2,000 cases here; `make fuzz` runs 100,000 (FUZZ_EXAMPLES)."""

from __future__ import annotations

import io
import os
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any
from xml.sax.saxutils import escape

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from lxml import etree
from sqlalchemy import func, select

from soapsms.store.db import transaction
from soapsms.store.migrate import upgrade
from soapsms.store.models import Batch, Message
from soapsms.usecases import accounts
from soapsms.usecases.runtime import Runtime
from soapsms.wsgi import GatewayApp, create_app
from tests.conftest import make_settings
from tests.soap_helpers import SOAP11, SOAP12

EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "2000"))

# An element: (local name, text or children). All in the contract's namespace.
Node = tuple[str, Any]
AUTH: Node = ("Auth", [("AccountId", "acme"), ("Password", "s3cret")])
WHEN = (datetime.now(UTC) + timedelta(days=30)).strftime("%Y-%m-%dT%H:%M:%SZ")
VALID: dict[str, Node] = {
    "SendMessage": (
        "SendMessage",
        [
            AUTH,
            (
                "Message",
                [
                    ("Text", "Server web01 is down"),
                    ("Recipients", [("Recipient", "+17036069996")]),
                    ("RecipientsText", "17036069997"),
                    ("Sender", "ACME"),
                    ("ClientReference", "INC1"),
                    ("ScheduledFor", WHEN),
                    ("ValidityMinutes", "60"),
                    ("Encoding", "AUTO"),
                    ("StatusCallbackUrl", "https://hooks.example.com/sms"),
                ],
            ),
        ],
    ),
    "GetStatus": (
        "GetStatus",
        [AUTH, ("MessageIds", [("MessageId", "01HZY0000000000000000000AA")])],
    ),
    "ListMessages": (
        "ListMessages",
        [
            AUTH,
            ("Since", "2020-01-02T03:04:05Z"),
            ("Until", WHEN),
            ("Status", "QUEUED"),
            ("Recipient", "+17036069996"),
            ("Limit", "10"),
        ],
    ),
    "CancelMessage": (
        "CancelMessage",
        [AUTH, ("MessageIds", [("MessageId", "01HZY0000000000000000000AA")])],
    ),
    "GetAccount": ("GetAccount", [AUTH]),
}

_dates = st.one_of(
    st.datetimes().map(lambda d: d.isoformat()),
    st.builds(
        "{:04d}-{:02d}-{:02d}T{:02d}:{:02d}:{:02d}{}".format,
        st.integers(0, 10000),
        st.integers(0, 13),
        st.integers(0, 32),
        st.integers(0, 25),
        st.integers(0, 61),
        st.integers(0, 61),
        st.sampled_from(["", "Z", "+14:00", "-23:59", "+24:00", "-05:00", "+5"]),
    ),
    st.sampled_from(
        ["0001-01-01T00:00:00", "9999-12-31T23:59:59-14:00", "24:00"]
        + ["2030-01-01T24:00:00Z", "0001-01-01T00:30:00+05:00", "10000-01-01T00:00:00"]
    ),
)
_numbers = st.one_of(
    st.integers().map(str),
    st.floats(allow_nan=True).map(str),
    st.sampled_from(["-0", "0x10", "1e9", " 7 ", "99999999999999999999"]),
)
_urls = st.one_of(
    st.builds(
        "{}://{}{}/{}".format,
        st.sampled_from(["http", "https", "ftp", "HTTP", ""]),
        st.sampled_from(
            ["[abc]", "[::1]", "[2002:a00::1]", "100.64.1.1", "exa mple.com", "a..b"]
            + ["h.example.com", "-x.com", "[fe80::1%25eth0]", "10.0.0.1", "[]"]
        ),
        st.sampled_from(["", ":0", ":65536", ":-1", ":80a", ":443"]),
        st.text(max_size=20),
    ),
)
_texts = st.one_of(
    st.text(max_size=40),
    st.text(alphabet=st.characters(codec="utf-8"), max_size=200),
    st.integers(0, 3000).map(lambda n: "x" * n),
    st.sampled_from(["", " ", "acme", "s3cret", "+17036069996", "€" * 80]),
)
_values = st.one_of(_texts, _numbers, _dates, _urls)
# The values of a field's own type are tried more often than any others.
_TYPED = {
    "ScheduledFor": _dates,
    "Since": _dates,
    "Until": _dates,
    "ValidityMinutes": _numbers,
    "Limit": _numbers,
    "StatusCallbackUrl": _urls,
}
_FAULT = (
    "<e:Fault><faultcode>e:Client</faultcode><faultstring>x</faultstring></e:Fault>"
)
_names = st.sampled_from(
    [
        "Auth",
        "AccountId",
        "Password",
        "Message",
        "Text",
        "Recipients",
        "Recipient",
        "MessageIds",
        "MessageId",
        "Since",
        "Limit",
        "Unknown",
        "ScheduledFor",
        "StatusCallbackUrl",
    ]
)


def _leaf_paths(node: Node, path: tuple[int, ...] = ()) -> list[tuple[int, ...]]:
    _, content = node
    if isinstance(content, str):
        return [path]
    paths = [path]
    for i, child in enumerate(content):
        paths.extend(_leaf_paths(child, (*path, i)))
    return paths


def _replace(node: Node, path: tuple[int, ...], new: Node | None) -> Node | None:
    if not path:
        return new
    name, children = node
    head, rest = path[0], path[1:]
    changed = []
    for i, child in enumerate(children):
        child = _replace(child, rest, new) if i == head else child
        if child is not None:
            changed.append(child)
    return (name, changed)


def _get(node: Node, path: tuple[int, ...]) -> Node:
    for i in path:
        node = node[1][i]
    return node


@st.composite
def mutated(draw: st.DrawFn) -> tuple[str, bytes]:
    """A valid operation element, mutated a few times, in a 1.1 or 1.2 envelope."""
    node: Node | None = draw(st.sampled_from(sorted(VALID.values())))
    for _ in range(draw(st.integers(0, 4))):
        assert node is not None
        paths = _leaf_paths(node)
        path = draw(st.sampled_from(paths))
        target = _get(node, path)
        kind = draw(st.sampled_from(["value", "drop", "dup", "add", "rename", "wrap"]))
        if kind == "value" or (kind == "wrap" and not path):
            typed = _TYPED.get(target[0])
            values = _values if typed is None else st.one_of(typed, typed, _values)
            new: Node | None = (target[0], draw(values))
        elif kind == "drop":
            new = None
        elif kind == "dup" and path:
            parent = _get(node, path[:-1])
            copies = draw(st.integers(2, 60))
            siblings = list(parent[1])
            siblings[path[-1] : path[-1] + 1] = [target] * copies
            node = _replace(node, path[:-1], (parent[0], siblings))
            continue
        elif kind == "add" and not isinstance(target[1], str):
            extra = (draw(_names), draw(_values))
            new = (target[0], [*target[1], extra])
        elif kind == "rename":
            new = (draw(_names), target[1])
        else:
            new = (draw(_names), [target])
        node = _replace(node, path, new)
        if node is None:
            break
    version = draw(st.sampled_from(["1.1", "1.2"]))
    body = _xml(node) if node is not None else ""
    if draw(st.integers(0, 49)) == 0:
        body = draw(st.sampled_from([_FAULT, _FAULT + body, body + _FAULT]))
    ns = SOAP11 if version == "1.1" else SOAP12
    doc = (
        f'<?xml version="1.0" encoding="utf-8"?><e:Envelope xmlns:e="{ns}" '
        f'xmlns:s="urn:soapsms:v1"><e:Body>{body}</e:Body></e:Envelope>'
    )
    return version, doc.encode("utf-8", "surrogatepass")


def _xml(node: Node) -> str:
    name, content = node
    inner = escape(content) if isinstance(content, str) else "".join(map(_xml, content))
    return f"<s:{name}>{inner}</s:{name}>"


def call(app: GatewayApp, version: str, body: bytes) -> tuple[str, bytes]:
    """One POST through the WSGI app, as gunicorn would make it."""
    answer: dict[str, str] = {}

    def start_response(status: str, headers: list[Any], exc_info: Any = None) -> None:
        answer["status"] = status

    environ = {
        "REQUEST_METHOD": "POST",
        "PATH_INFO": "/soap" if version == "1.1" else "/soap12",
        "QUERY_STRING": "",
        "CONTENT_TYPE": "text/xml; charset=utf-8"
        if version == "1.1"
        else "application/soap+xml; charset=utf-8",
        "CONTENT_LENGTH": str(len(body)),
        "REMOTE_ADDR": "192.0.2.1",
        "SERVER_NAME": "localhost",
        "SERVER_PORT": "80",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "wsgi.input": io.BytesIO(body),
        "wsgi.url_scheme": "http",
        "wsgi.errors": io.StringIO(),
    }
    data = b"".join(app(environ, start_response))
    return answer["status"], data


def fault_code(data: bytes) -> str:
    root = etree.fromstring(data)
    code = root.findtext(".//faultcode")
    if code is not None:
        return code.rsplit(":", 1)[-1]
    value = root.findtext(f".//{{{SOAP12}}}Code/{{{SOAP12}}}Value") or ""
    sub = root.findtext(f".//{{{SOAP12}}}Subcode/{{{SOAP12}}}Value") or ""
    head = "Client" if value.endswith("Sender") else "Server"
    return f"{head}.{sub.rsplit(':', 1)[-1]}" if sub else head


@pytest.fixture(scope="module")
def gateway(tmp_path_factory: pytest.TempPathFactory) -> Iterator[GatewayApp]:
    db = tmp_path_factory.mktemp("fuzz") / "soapsms.db"
    rt = Runtime(make_settings(f"sqlite:///{db}", login_failures_per_window=10**9))
    upgrade(rt.engine)
    accounts.create_account(rt, "acme", "s3cret")
    yield create_app(runtime=rt)
    rt.close()


def stored(app: GatewayApp) -> tuple[int, int]:
    with transaction(app.runtime.engine) as conn:
        return (
            conn.scalar(select(func.count()).select_from(Message)) or 0,
            conn.scalar(select(func.count()).select_from(Batch)) or 0,
        )


@pytest.mark.parametrize("name", sorted(VALID))
def test_the_unmutated_envelopes_succeed(gateway, name):
    for version in ("1.1", "1.2"):
        status, data = call(gateway, version, mutated_free(name, version))
        assert status.startswith("200"), data


def mutated_free(name: str, version: str) -> bytes:
    ns = SOAP11 if version == "1.1" else SOAP12
    return (
        f'<e:Envelope xmlns:e="{ns}" xmlns:s="urn:soapsms:v1"><e:Body>'
        f"{_xml(VALID[name])}</e:Body></e:Envelope>"
    ).encode()


@settings(
    max_examples=EXAMPLES,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(case=mutated())
def test_mutated_envelopes_get_contract_answers(gateway, case):
    version, body = case
    before = stored(gateway)
    status, data = call(gateway, version, body)
    code = status.split()[0]
    if code == "200":
        return
    assert code in ("400", "401", "413", "500"), (status, body)
    if code == "500":
        fault = fault_code(data)
        assert fault.startswith("Client.") or fault == "Server.Unavailable", (
            fault,
            body,
            data,
        )
    assert stored(gateway) == before, body


def test_the_gateway_still_answers_after_the_fuzzing(gateway):
    status, data = call(gateway, "1.1", mutated_free("GetAccount", "1.1"))
    assert status.startswith("200") and b"acme" in data


_AUTH = _xml(AUTH)


def _send_with(extra: str) -> str:
    return (
        f"<s:SendMessage>{_AUTH}<s:Message><s:Text>hi</s:Text><s:Recipients>"
        f"<s:Recipient>+17036069996</s:Recipient></s:Recipients>{extra}"
        "</s:Message></s:SendMessage>"
    )


@pytest.mark.parametrize(
    "body",
    [
        _send_with("<s:ScheduledFor>2030-01-01T24:00:00Z</s:ScheduledFor>"),
        _send_with("<s:ScheduledFor>9999-12-31T23:59:59-05:00</s:ScheduledFor>"),
        _send_with("<s:ScheduledFor>0001-01-01T00:30:00+05:00</s:ScheduledFor>"),
        _send_with("<s:StatusCallbackUrl>http://[abc]/x</s:StatusCallbackUrl>"),
        _send_with(
            "<s:StatusCallbackUrl>http://h.example:99999/</s:StatusCallbackUrl>"
        ),
        f"<s:ListMessages>{_AUTH}<s:Since>2030-01-01T24:00:00Z</s:Since>"
        "</s:ListMessages>",
        f"<s:ListMessages>{_AUTH}<s:Until>9999-12-31T23:59:59-05:00</s:Until>"
        "</s:ListMessages>",
        "<e:Fault><faultcode>e:Client</faultcode><faultstring>x</faultstring></e:Fault>",
    ],
)
def test_the_inputs_that_were_500s_are_validation_errors(gateway, body):
    for version in ("1.1", "1.2"):
        ns = SOAP11 if version == "1.1" else SOAP12
        doc = (
            f'<e:Envelope xmlns:e="{ns}" xmlns:s="urn:soapsms:v1"><e:Body>'
            f"{body}</e:Body></e:Envelope>"
        ).encode()
        status, data = call(gateway, version, doc)
        assert status.startswith("500"), data
        assert fault_code(data) == "Client.ValidationError", data
