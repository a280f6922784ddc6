"""Wrong settings stop every `soapsms` command before it starts anything: one
line naming the file, section and key (or variable, or flag), exit 2, no
traceback; `serve` refuses before it migrates, binds or forks a web worker."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from tests.cli_helpers import environment, soapsms

SMPP = "[connector:smsc]\ntype = smpp\nhost = 127.0.0.1\nsystem_id = acme\n"

# One of each kind: (the INI file, the variables, what the one line says).
KINDS = {
    "log level": (
        "[soapsms]\nlog_level = LOUD\n",
        {},
        "[soapsms] log_level must be one of DEBUG, INFO, WARNING, ERROR, CRITICAL,"
        " not 'LOUD'",
    ),
    "connector option": (
        SMPP + "window = ten\n[routes]\ndefault = smsc\n",
        {},
        "[connector:smsc] window must be a whole number, not 'ten'",
    ),
    "route to an unknown connector": (
        SMPP + "[routes]\n+1 = smsc, backup\n",
        {},
        "[routes] +1 names no connector or an unknown one: backup",
    ),
    "HOST:PORT": (
        "",
        {"SOAPSMS_SNPP_BIND": "4444"},
        "SOAPSMS_SNPP_BIND: snpp_bind must be HOST:PORT or off, not '4444'",
    ),
}

COMMANDS = [
    ["serve"],
    ["dispatch"],
    ["smtp"],
    ["snpp"],
    ["account", "list"],
    ["account", "create", "acme", "--password-stdin"],
    ["db", "upgrade"],
    ["db", "status"],
    ["report", "--account", "acme", "--since", "2026-01-01", "--until", "2026-01-02"],
    ["purge", "--dry-run"],
    ["messages", "find", "--account", "acme"],
    ["wsdl", "--out", "{tmp}/wsdl"],
]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _setup(tmp_path: Path, kind: str) -> tuple[list[str], dict[str, str], str]:
    text, variables, says = KINDS[kind]
    config = tmp_path / "soapsms.ini"
    config.write_text(text)
    env = environment(
        SOAPSMS_DATABASE_URL=f"sqlite:///{tmp_path / 'soapsms.db'}", **variables
    )
    return ["--config", str(config)], env, says


@pytest.mark.parametrize("kind", KINDS)
def test_serve_refuses_before_binding_or_starting_a_worker(
    tmp_path: Path, kind: str
) -> None:
    config, env, says = _setup(tmp_path, kind)
    port = _free_port()
    result = soapsms(*config, "serve", "--bind", f"127.0.0.1:{port}", env=env)
    assert result.code == 2, result
    assert result.error_line() == f"soapsms: {config[1]}: {says}" or (
        result.error_line() == f"soapsms: {says}"
    ), result.err
    assert len(result.err.strip().splitlines()) == 1, result.err
    # Nothing started: no migration (the database would exist), no gunicorn.
    assert "serving on" not in result.out and "Booting worker" not in result.err
    assert not (tmp_path / "soapsms.db").exists()
    with socket.socket() as sock:  # and the port was never taken
        sock.bind(("127.0.0.1", port))


@pytest.mark.parametrize("kind", KINDS)
def test_the_dispatcher_refuses_at_once(tmp_path: Path, kind: str) -> None:
    config, env, says = _setup(tmp_path, kind)
    result = soapsms(*config, "dispatch", env=env)
    assert result.code == 2 and says in result.error_line(), result
    assert len(result.err.strip().splitlines()) == 1, result.err


@pytest.mark.parametrize("argv", COMMANDS, ids=[" ".join(c[:2]) for c in COMMANDS])
def test_every_command_says_the_wrong_setting_and_stops(
    tmp_path: Path, argv: list[str]
) -> None:
    config, env, says = _setup(tmp_path, "connector option")
    argv = [a.format(tmp=tmp_path) for a in argv]
    result = soapsms(*config, *argv, env=env, stdin="pw\n")
    assert result.code == 2, result
    assert result.error_line() == f"soapsms: {config[1]}: {says}", result.err
    assert result.out == "" and not (tmp_path / "soapsms.db").exists()


@pytest.mark.parametrize(
    ("argv", "says"),
    [
        (["serve", "--bind", "8000"], "--bind must be HOST:PORT or unix:PATH"),
        (["serve", "--smtp-bind", "mail"], "--smtp-bind must be HOST:PORT or off"),
        (["serve", "--snpp-bind", "x:y"], "--snpp-bind must be HOST:PORT or off"),
        (["serve", "--workers", "two"], "--workers must be a whole number"),
        (["smtp", "--bind", "2525"], "--bind must be HOST:PORT or off"),
        (["snpp", "--bind", "[::1]"], "--bind must be HOST:PORT or off"),
        (["dispatch", "--metrics-bind", "9101"], "--metrics-bind must be HOST:PORT"),
    ],
)
def test_flags_are_read_as_the_settings_they_stand_for(
    tmp_path: Path, argv: list[str], says: str
) -> None:
    env = environment(SOAPSMS_DATABASE_URL=f"sqlite:///{tmp_path / 'soapsms.db'}")
    result = soapsms(*argv, env=env)
    assert result.code == 2 and result.error_line().startswith(f"soapsms: {says}")
    assert not (tmp_path / "soapsms.db").exists()
