"""`soapsms smtp` and the SMTP companion of `soapsms serve`, as processes."""

from __future__ import annotations

import os
import queue
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from soapsms import cli
from tests.smtp_helpers import example, send
from tests.soap_helpers import AUTH

SOAPSMS = str(Path(sys.executable).with_name("soapsms"))
READY = "soapsms smtp listening on "
WAIT = 60  # seconds at most for a process to come up; normally about one


def _env(db_url: str) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        SOAPSMS_DATABASE_URL=db_url,
        SOAPSMS_CARRIER="simulator",
        SOAPSMS_LOG_LEVEL="WARNING",
    )
    return env


@contextmanager
def _process(argv: list[str], db_url: str) -> Iterator[tuple[int, subprocess.Popen]]:
    """Start `soapsms argv…`; yield (the SMTP port it announced, the process)."""
    process = subprocess.Popen(
        [SOAPSMS, *argv],
        env=_env(db_url),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    lines: queue.Queue[str] = queue.Queue()

    def pump() -> None:
        assert process.stdout is not None
        for line in process.stdout:
            lines.put(line)
        lines.put("")  # end of output

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
        reader.join(timeout=WAIT)  # the pipe is at its end once the process is gone
        assert process.stdout is not None
        process.stdout.close()


def test_soapsms_smtp_command(runtime, account, client, db_url):
    with _process(["smtp", "--bind", "127.0.0.1:0"], db_url) as (port, process):
        code, text = send(port, example())
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=WAIT) == 0
    assert code == 250, text
    assert len(client.service.ListMessages(Auth=AUTH).Messages.MessageStatus) == 2


def test_serve_starts_the_smtp_companion(runtime, account, client, db_url):
    argv = ["serve", "--bind", "127.0.0.1:0", "--workers", "1", "--snpp-bind", "off"]
    with _process([*argv, "--smtp-bind", "127.0.0.1:0"], db_url) as (port, process):
        code, text = send(port, example())
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=WAIT) == 0
    assert code == 250, text
    assert len(client.service.ListMessages(Auth=AUTH).Messages.MessageStatus) == 2


@pytest.mark.parametrize(
    ("argv", "env", "expected"),
    [
        ([], {}, ["smtp", "--bind", "127.0.0.1:2525"]),
        (["--smtp-bind", "0.0.0.0:25"], {}, ["smtp", "--bind", "0.0.0.0:25"]),
        (
            [],
            {"SOAPSMS_SMTP_BIND": "127.0.0.1:2626"},
            ["smtp", "--bind", "127.0.0.1:2626"],
        ),
        (["--smtp-bind", "off"], {}, None),
        ([], {"SOAPSMS_SMTP_BIND": "off"}, None),
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
    smtp = [c for c in started[0] if "smtp" in c]
    assert smtp == ([expected] if expected else [])


def test_serve_passes_its_config_file_to_the_companion(monkeypatch, tmp_path):
    config = tmp_path / "soapsms.ini"
    config.write_text("[soapsms]\nsmtp_bind = 127.0.0.1:2727\n")
    started: list[list[list[str]]] = []
    monkeypatch.setattr(
        "soapsms.serve.serve",
        lambda settings, companions: started.append(companions) or 0,
    )
    assert cli.main(["--config", str(config), "serve"]) == 0
    assert ["--config", str(config), "smtp", "--bind", "127.0.0.1:2727"] in started[0]


def test_smtp_command_with_bind_off_is_an_error(monkeypatch, capsys):
    monkeypatch.setenv("SOAPSMS_SMTP_BIND", "off")
    assert cli.main(["smtp"]) == 2
    assert "smtp_bind is off" in capsys.readouterr().err
