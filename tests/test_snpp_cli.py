"""`soapsms snpp` and the SNPP companion of `soapsms serve`, as processes."""

from __future__ import annotations

import os
import queue
import signal
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from soapsms import cli
from soapsms.store.migrate import upgrade
from soapsms.usecases import accounts
from soapsms.usecases.runtime import Runtime
from tests.conftest import make_settings
from tests.snpp_helpers import Client

SOAPSMS = str(Path(sys.executable).with_name("soapsms"))
READY = "soapsms snpp listening on "
WAIT = 60  # seconds at most for a process to come up; normally about one


@contextmanager
def _process(argv: list[str], db_url: str) -> Iterator[tuple[int, subprocess.Popen]]:
    """Start `soapsms argv…`; yield (the SNPP port it announced, the process)."""
    env = os.environ | {
        "SOAPSMS_DATABASE_URL": db_url,
        "SOAPSMS_LOG_LEVEL": "WARNING",
        "SOAPSMS_CARRIER": "simulator",
    }
    process = subprocess.Popen(
        [SOAPSMS, *argv],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    lines: queue.Queue[str] = queue.Queue()

    def pump() -> None:
        assert process.stdout is not None
        for line in process.stdout:
            lines.put(line)
        lines.put("")

    reader = threading.Thread(target=pump, daemon=True)
    reader.start()
    seen: list[str] = []
    try:
        while True:
            try:
                line = lines.get(timeout=WAIT)
            except queue.Empty:
                pytest.fail("no readiness line:\n" + "".join(seen))
            seen.append(line)
            if line.startswith(READY):
                port = int(line[len(READY) :].strip().rpartition(":")[2])
                break
            if line == "":
                pytest.fail("exited before listening:\n" + "".join(seen))
        yield port, process
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
        process.wait(timeout=WAIT)
        reader.join(timeout=WAIT)
        assert process.stdout is not None
        process.stdout.close()


@pytest.fixture
def runtime(sqlite_url: str) -> Iterator[Runtime]:
    """A migrated SQLite store with the account acme, shared with the process."""
    rt = Runtime(make_settings(sqlite_url))
    upgrade(rt.engine)
    accounts.create_account(rt, "acme", "s3cret")
    yield rt
    rt.close()


def _page(port: int) -> str:
    with Client(port) as client:
        assert client.cmd("LOGI acme s3cret") == "250 Login Accepted"
        client.cmd("PAGE 17036069996")
        client.cmd("MESS Server web01 is down")
        return client.cmd("SEND")


def test_soapsms_snpp_command(runtime, sqlite_url):
    with _process(["snpp", "--bind", "127.0.0.1:0"], sqlite_url) as (port, process):
        reply = _page(port)
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=WAIT) == 0
    assert reply.startswith("250 Message Sent Successfully")


def test_serve_starts_the_snpp_companion(runtime, sqlite_url):
    argv = ["serve", "--bind", "127.0.0.1:0", "--workers", "1", "--dispatch", "off"]
    argv += ["--smtp-bind", "off", "--snpp-bind", "127.0.0.1:0"]
    with _process(argv, sqlite_url) as (port, process):
        reply = _page(port)
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=WAIT) == 0
    assert reply.startswith("250 Message Sent Successfully")


@pytest.mark.parametrize(
    ("argv", "env", "expected"),
    [
        ([], {}, ["snpp", "--bind", "127.0.0.1:4444"]),
        (["--snpp-bind", "0.0.0.0:444"], {}, ["snpp", "--bind", "0.0.0.0:444"]),
        (
            [],
            {"SOAPSMS_SNPP_BIND": "127.0.0.1:4545"},
            ["snpp", "--bind", "127.0.0.1:4545"],
        ),
        (["--snpp-bind", "off"], {}, None),
        ([], {"SOAPSMS_SNPP_BIND": "off"}, None),
    ],
)
def test_serve_companion_arguments(monkeypatch, argv, env, expected):
    started: list[list[list[str]]] = []
    monkeypatch.setattr(
        "soapsms.serve.serve",
        lambda settings, companions: started.append(companions) or 0,
    )
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    assert cli.main(["serve", *argv]) == 0
    snpp = [c for c in started[0] if "snpp" in c]
    assert snpp == ([expected] if expected else [])


def test_snpp_command_with_bind_off_is_an_error(monkeypatch, capsys):
    monkeypatch.setenv("SOAPSMS_SNPP_BIND", "off")
    assert cli.main(["snpp"]) == 2
    assert "snpp_bind is off" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"SOAPSMS_SNPP_BIND": "4444"}, "snpp_bind must be HOST:PORT or off"),
        (
            {"SOAPSMS_SNPP_IDLE_TIMEOUT_SECONDS": "0"},
            "snpp_idle_timeout_seconds must be more than 0",
        ),
    ],
)
def test_bad_settings_are_refused(monkeypatch, capsys, env, message):
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    assert cli.main(["snpp"]) == 2
    assert message in capsys.readouterr().err


def test_a_port_in_use_is_a_clear_error(sqlite_url):
    env = os.environ | {"SOAPSMS_DATABASE_URL": sqlite_url}
    # A store that is ready: the port is the one thing wrong.
    subprocess.run([SOAPSMS, "db", "upgrade"], env=env, check=True, timeout=WAIT)
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        done = subprocess.run(
            [SOAPSMS, "snpp", "--bind", f"127.0.0.1:{port}"],
            env=env,
            capture_output=True,
            text=True,
            timeout=WAIT,
        )
    assert done.returncode == 2
    assert done.stderr.startswith(
        f"soapsms: cannot listen for SNPP on 127.0.0.1:{port}"
    )
    assert "Traceback" not in done.stderr
