"""Every `soapsms` command fed bad input, as a process: one clear line on
stderr and a non-zero exit, never a traceback or a hang."""

from __future__ import annotations

import io
import os
import socket
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from soapsms import cli
from soapsms.store.migrate import upgrade
from soapsms.usecases import accounts
from soapsms.usecases.runtime import Runtime
from tests.cli_helpers import Result, environment, soapsms
from tests.conftest import _fresh_schema_url, make_settings


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """A migrated SQLite store with the account acme; the directory beside it."""
    tmp = tmp_path_factory.mktemp("cli")
    url = f"sqlite:///{tmp / 'soapsms.db'}"
    runtime = Runtime(make_settings(url))
    upgrade(runtime.engine)
    accounts.create_account(runtime, "acme", "s3cret")
    runtime.close()
    (tmp / "no-header.ini").write_text("database_url = sqlite:///x.db\n")
    (tmp / "typo.ini").write_text("[soapsm]\ndatabase_url = sqlite:///x.db\n")
    (tmp / "a-file").write_text("")
    (tmp / "both.ini").write_text(
        "[soapsms]\ncarrier = simulator\n[connector:sim]\ntype = simulator\n"
        "[routes]\n+1 = sim\n"
    )
    (tmp / "pigeon.ini").write_text("[soapsms]\ncarrier = pigeon\n")
    return {"url": url, "tmp": str(tmp)}


@pytest.fixture
def listener() -> Iterator[str]:
    """HOST:PORT something listens on, with SO_REUSEPORT as gunicorn's workers."""
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        yield f"127.0.0.1:{sock.getsockname()[1]}"


# (argv, standard input, what the one error line says); {tmp} is the store's
# directory. Each runs against the migrated store unless its argv says otherwise.
CASES = [
    # configuration
    (["--config", "{tmp}/no-header.ini", "account", "list"], "", "not an INI file"),
    (["--config", "{tmp}/typo.ini", "account", "list"], "", "unknown section [soapsm]"),
    (["--config", "{tmp}/missing.ini", "account", "list"], "", "cannot read config"),
    (["--config", "{tmp}/both.ini", "account", "list"], "", "are both configured"),
    (["--config", "{tmp}/pigeon.ini", "serve"], "", "carrier must be one of simulator"),
    # account
    (["account", "create", "new"], "", "no terminal to ask for the password"),
    (["account", "create", "new", "--password-stdin"], "", "no password in standard"),
    (["account", "create", "new", "--password-file", "{tmp}/none"], "", "cannot read"),
    (["account", "set-password", "acme"], "", "no terminal"),
    (["account", "show", "nobody"], "", "no account 'nobody'"),
    (["account", "credits", "acme"], "", "account credits: error: one of the"),
    (["account", "rate-limit", "acme"], "", "account rate-limit: error: rate-limit"),
    (["account", "allow-network", "acme"], "", "account allow-network: error:"),
    (["account", "allow-network", "acme", "10.0.0.300/8"], "", "not a network"),
    (["account", "allow-network", "acme", "10.0.0.0/8", "--any"], "", "or --any"),
    (["account", "credits", "acme", "--add", "-5"], "", "unlimited credits"),
    (["account", "delete", "acme"], "", "confirm with --yes"),
    (["account", "blocked", "nobody"], "", "no account 'nobody'"),
    (["account", "set", "acme", "--max-recipients", "many"], "", "invalid int"),
    (["account", "block", "acme", "not-a-number"], "", ""),
    # messages
    (["messages", "find", "--account", "nobody"], "", "no account 'nobody'"),
    (["messages", "find", "--account", "acme", "--status", "BOGUS"], "", "Status"),
    (["messages", "find", "--account", "acme", "--since", "soon"], "", "not a date"),
    (
        ["messages", "find", "--account", "acme", "--id", "X", "--status", "QUEUED"],
        "",
        "--id and --reference go alone",
    ),
    (["messages", "find", "--account", "acme", "--limit", "0"], "", "Limit must be"),
    (["messages", "retry", "--account", "acme", "NOT-AN-ID"], "", "no message"),
    (["messages", "retry", "--account", "acme"], "", "arguments are required"),
    # report
    (
        [
            "report",
            "--account",
            "acme",
            "--since",
            "2026-01-01",
            "--until",
            "2026-01-31",
            "--out",
            "{tmp}/missing/report.csv",
        ],
        "",
        "cannot write the report to",
    ),
    (
        [
            "report",
            "--account",
            "acme",
            "--since",
            "2026-01-01",
            "--until",
            "2026-01-31",
            "--out",
            "{tmp}",
        ],
        "",
        "Is a directory",
    ),
    (
        [
            "report",
            "--account",
            "acme",
            "--since",
            "2026-02-30",
            "--until",
            "2026-03-01",
        ],
        "",
        "not a date",
    ),
    (
        [
            "report",
            "--account",
            "acme",
            "--since",
            "2026-02-01",
            "--until",
            "2026-01-01",
        ],
        "",
        "--until is before --since",
    ),
    (
        [
            "report",
            "--account",
            "acme",
            "--since",
            "2026-01-01",
            "--until",
            "2026-01-02",
            "--tz",
            "Mars/Olympus",
        ],
        "",
        "unknown time zone",
    ),
    (
        [
            "report",
            "--account",
            "nobody",
            "--since",
            "2026-01-01",
            "--until",
            "2026-01-02",
        ],
        "",
        "no account 'nobody'",
    ),
    # purge
    (["purge", "--older-than", "2026y"], "", "reaches back before year 1"),
    (["purge", "--older-than", "99999y"], "", "reaches back before year 1"),
    (["purge", "--older-than", "1y"], "", "legal minimum of 2 years"),
    (["purge", "--older-than", "soon"], "", "not a duration"),
    (["purge", "--batch-size", "0"], "", "--batch-size must be at least 1"),
    (["purge", "--batch-size", "-5"], "", "--batch-size must be at least 1"),
    # dispatch, smtp, serve: settings refused before anything starts
    (["dispatch", "--metrics-bind", "nowhere"], "", "--metrics-bind must be HOST:PORT"),
    (["smtp", "--bind", "nowhere"], "", ""),
    (["serve", "--workers", "0"], "", "workers must be at least 1"),
    (["serve", "--bind", "nowhere"], "", "bind must be HOST:PORT"),
    # wsdl, db, the command itself
    (["wsdl", "--out", "{tmp}/a-file/wsdl"], "", "cannot write to"),
    (["db", "frobnicate"], "", "soapsms db: error: argument db_command"),
    (["frobnicate"], "", "invalid choice"),
    ([], "", "the following arguments are required: command"),
]


def _as_process(cases: list[tuple[list[str], str, str]]) -> list[bool]:
    """The first case of each command runs as a process (the real entry point);
    the others in this process, to keep the run short on a busy machine."""
    seen: set[str] = set()
    flags = []
    for argv, _, _ in cases:
        words = [a for a in argv if not a.startswith("-") and "{tmp}" not in a]
        command = words[0] if words else "-"
        flags.append(command not in seen)
        seen.add(command)
    return flags


def _in_process(
    argv: list[str], env: dict[str, str], stdin: str, monkeypatch, capsys
) -> Result:
    for name in [n for n in os.environ if n.startswith("SOAPSMS_")]:
        monkeypatch.delenv(name)
    for name, value in env.items():
        if name.startswith("SOAPSMS_"):
            monkeypatch.setenv(name, value)
    monkeypatch.setattr(sys, "stdin", io.StringIO(stdin))
    try:
        code = cli.main(argv)
    except SystemExit as exc:  # argparse's errors
        code = int(exc.code or 0)
    out, err = capsys.readouterr()
    return Result(code, out, err)


@pytest.mark.parametrize(
    ("argv", "stdin", "says", "process"),
    [(*case, flag) for case, flag in zip(CASES, _as_process(CASES), strict=True)],
    ids=[" ".join(c[0]) or "-" for c in CASES],
)
def test_bad_input_is_one_clear_line(
    store, argv, stdin, says, process, monkeypatch, capsys
):
    argv = [a.format(tmp=store["tmp"]) for a in argv]
    env = environment(SOAPSMS_DATABASE_URL=store["url"], SOAPSMS_LOG_LEVEL="WARNING")
    if process:
        result = soapsms(*argv, env=env, stdin=stdin)
    else:
        result = _in_process(argv, env, stdin, monkeypatch, capsys)
    line = result.error_line()
    assert result.code != 0, result
    assert says in line, result.err
    assert line.startswith("soapsms"), result.err


@pytest.mark.parametrize(
    ("url", "says"),
    [
        ("mysql://user@localhost/sms", "database_url must be sqlite:///PATH or"),
        ("sms.db", "database_url must be sqlite:///PATH or"),
        ("sqlite:///{tmp}/nowhere/sms.db", "no SQLite database at"),
        ("sqlite:///{tmp}/other.db", "run `soapsms db upgrade` to create it"),
    ],
)
def test_a_wrong_database_url_is_named(store, url, says):
    env = environment(SOAPSMS_DATABASE_URL=url.format(tmp=store["tmp"]))
    for argv in (
        ["account", "list"],
        ["purge", "--dry-run"],
    ):
        result = soapsms(*argv, env=env)
        assert result.code == 2 and says in result.error_line(), (argv, result)
    assert not (Path(store["tmp"]) / "other.db").exists()


def test_db_upgrade_into_a_missing_directory_says_so(store):
    env = environment(SOAPSMS_DATABASE_URL=f"sqlite:///{store['tmp']}/no/dir/s.db")
    result = soapsms("db", "upgrade", env=env)
    assert result.code == 2
    assert "no directory" in result.error_line() and "/no/dir" in result.err


def test_no_database_url_leaves_no_empty_database_behind(tmp_path):
    result = soapsms("account", "list", cwd=tmp_path)
    assert result.code == 2
    assert "no SQLite database at" in result.error_line()
    assert "db upgrade" in result.error_line()
    assert list(tmp_path.iterdir()) == []


def test_taken_ports_are_refused(store, listener):
    env = environment(SOAPSMS_DATABASE_URL=store["url"], SOAPSMS_LOG_LEVEL="WARNING")
    runs = {
        "serve": ["serve", "--bind", listener, "--smtp-bind", "off"],
        "serve's SMTP": ["serve", "--bind", "127.0.0.1:0", "--smtp-bind", listener],
        "smtp": ["smtp", "--bind", listener],
        "dispatch": ["dispatch", "--metrics-bind", listener],
    }
    for name, argv in runs.items():
        result = soapsms(*argv, env=env, timeout=30)
        assert result.code == 2, (name, result)
        line = result.error_line()
        assert listener in line and "in use" in line, (name, result.err)


def test_version_and_help_name_every_command():
    version = soapsms("--version")
    assert version.code == 0 and version.out.strip()
    help_text = soapsms("--help").out
    for command in ("serve", "smtp", "dispatch", "report", "purge", "db", "account"):
        assert command in help_text.split("{", 1)[1].split("}", 1)[0]


def test_a_misspelled_variable_is_warned_about(store):
    env = environment(
        SOAPSMS_DATABASE_URL=store["url"], SOAPSMS_DATABSE_URL="sqlite:///x.db"
    )
    result = soapsms("account", "list", env=env)
    assert result.code == 0 and "acme" in result.out
    assert "SOAPSMS_DATABSE_URL names no setting" in result.err


@pytest.mark.postgres
def test_postgresql_before_db_upgrade_says_what_to_run(postgres_database):
    url = _fresh_schema_url(postgres_database)
    env = environment(SOAPSMS_DATABASE_URL=url)
    result = soapsms("account", "list", env=env)
    assert result.code == 2
    assert result.error_line() == (
        "soapsms: the database has no soapsms schema yet: run `soapsms db upgrade`"
    )
    status = soapsms("db", "status", env=env)
    assert status.code == 1 and "pending:    0001" in status.out
    assert soapsms("db", "upgrade", env=env).code == 0
    status = soapsms("db", "status", env=env)
    assert status.code == 0 and "pending:    none" in status.out
    assert "partitions: messages up to messages_" in status.out


@pytest.mark.postgres
def test_postgresql_role_or_database_missing_is_not_retry_later(postgres_database):
    from sqlalchemy.engine import make_url

    base = make_url(postgres_database)
    for url, says in (
        (base.set(username="no_such_role"), 'role "no_such_role" does not exist'),
        (base.set(database="no_such_db"), 'database "no_such_db" does not exist'),
    ):
        env = environment(SOAPSMS_DATABASE_URL=url.render_as_string(False))
        result = soapsms("account", "list", env=env)
        assert result.code == 2 and says in result.error_line(), result.err
        assert "retry later" not in result.err
