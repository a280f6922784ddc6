"""docs/snpp.md's examples, run as written: the session transcript over a raw
socket, the Net::SNPP script with Debian's libnet-snpp-perl, and HylaFAX's
sendpage with the documented configuration."""

from __future__ import annotations

import getpass
import os
import re
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from soapsms.usecases import accounts
from soapsms.usecases.query import list_messages
from soapsms.usecases.requests import ListQuery
from soapsms.usecases.runtime import Runtime
from tests.dispatch_helpers import acme_runtime, message
from tests.snpp_helpers import Client, ingress

DOC = Path(__file__).resolve().parent.parent / "docs" / "snpp.md"
# What varies between runs, as the document shows it.
_VARYING = {
    "01JF6M1V0QJ6K6M3X0D5N3T7QZ": r"[0-9A-Z]{26}",
    "482913": r"\d{6}",
    "241204101502": r"\d{12}",
}


def _block(language: str) -> str:
    [found] = re.findall(rf"```{language}\n(.*?)```", DOC.read_text(), re.DOTALL)
    return found


def _pattern(line: str) -> re.Pattern[str]:
    pattern = re.escape(line)
    for example, wanted in _VARYING.items():
        pattern = pattern.replace(example, wanted)
    return re.compile(pattern)


def _need(tool: str, probe: list[str], required: frozenset[str]) -> None:
    """Skip when the tool is missing, unless CI requires it (SOAPSMS_REQUIRE=snpp)."""
    ok = subprocess.run(probe, capture_output=True).returncode == 0
    if not ok:
        if "snpp" in required:
            pytest.fail(f"SOAPSMS_REQUIRE=snpp but {tool} is missing")
        pytest.skip(f"{tool} is not installed (.ci/run installs it)")


@pytest.fixture
def rt(sqlite_url: str) -> Iterator[Runtime]:
    with acme_runtime(sqlite_url) as runtime:
        accounts.create_account(runtime, "demo", "demo-password", "Demo")
        yield runtime


@pytest.fixture
def port(rt: Runtime) -> Iterator[int]:
    with ingress(rt) as listener:
        yield listener.port


def _texts(rt: Runtime, account: str = "demo") -> list[tuple[str, str]]:
    """(recipient, text) of the account's messages: what was stored."""
    view = accounts.get(rt, account)
    page = list_messages(rt, view, ListQuery())
    return sorted((m.recipient, message(rt, m.message_id).text) for m in page.messages)


def test_the_session_transcript(rt, port):
    lines = _block("snpp").splitlines()
    pass_code = ""
    with Client(port) as client:
        assert _pattern(lines[0][3:]).fullmatch(client.greeting)
        for index, line in enumerate(lines[1:], 1):
            if line.startswith("C: "):
                client.send_raw(
                    line[3:].replace("482913", pass_code).encode() + b"\r\n"
                )
                continue
            reply = client.line()
            assert _pattern(line[3:]).fullmatch(reply), (index, reply)
            if found := re.search(r"pass code (\d{6})", reply):
                pass_code = found.group(1)
    assert _texts(rt) == [
        ("+17036069996", "web01: Server is down\nsince 10:00"),
        ("+17036069997", "web01: Server is down\nsince 10:00"),
    ]


def test_the_perl_example(rt, port, tmp_path, required):
    _need("Net::SNPP (libnet-snpp-perl)", ["perl", "-MNet::SNPP", "-e1"], required)
    script = tmp_path / "page.pl"
    script.write_text(_block("perl"))
    done = subprocess.run(
        ["perl", str(script)],
        env=os.environ | {"SNPP_PORT": str(port), "SNPP_HOST": "127.0.0.1"},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    wanted = _block("text").splitlines()
    got = done.stdout.splitlines()
    assert len(got) == len(wanted), got
    for line, expected in zip(got, wanted, strict=True):
        assert _pattern(expected).fullmatch(line), line
    assert _texts(rt) == [
        ("+17036069996", "Server web01 is down"),
        ("+17036069997", "Server web01 is down"),
    ]


def test_the_sendpage_example(rt, port, tmp_path, required):
    _need(
        "HylaFAX sendpage (hylafax-client)",
        ["sh", "-c", "command -v sendpage"],
        required,
    )
    user = getpass.getuser()
    accounts.create_account(rt, user, "the-password", "sendpage's user")
    config = _block("hylarc").replace("sms-gateway.example.com", "127.0.0.1")
    (tmp_path / ".hylarc").write_text(config.replace("4444", str(port)))
    done = subprocess.run(
        ["sh", "-c", _block("sh")],
        env=os.environ | {"HOME": str(tmp_path)},
        capture_output=True,
        text=True,
        timeout=60,
        cwd=tmp_path,
    )
    assert done.returncode == 0, (done.stdout, done.stderr)
    assert _texts(rt, user) == [
        ("+17036069996", "Server web01 is down"),
        ("+17036069997", "Server web01 is down"),
    ]
