"""`soapsms admin` and `soapsms connector`, as an operator runs them."""

from __future__ import annotations

from pathlib import Path

from tests.cli_helpers import environment, soapsms


def _env(tmp_path: Path) -> dict[str, str]:
    return environment(
        SOAPSMS_DATABASE_URL=f"sqlite:///{tmp_path / 'soapsms.db'}",
        SOAPSMS_CARRIER="simulator",
        SOAPSMS_ARGON2_TIME_COST="1",
        SOAPSMS_ARGON2_MEMORY_KIB="64",
    )


def test_admin_create_list_disable(tmp_path: Path) -> None:
    env = _env(tmp_path)
    assert soapsms("db", "upgrade", env=env).code == 0
    # No terminal to prompt on: one plain line, no traceback.
    done = soapsms("admin", "create", "alice", env=env)
    assert done.code == 2
    assert done.error_line() == (
        "soapsms: no terminal to ask for the password on: give --password-stdin, "
        "--password-file FILE or --password PW"
    )
    done = soapsms("admin", "create", "alice", "--password-stdin", env=env, stdin="")
    assert (done.code, done.error_line()) == (
        2,
        "soapsms: no password in standard input",
    )
    done = soapsms(
        "admin", "create", "alice", "--password-stdin", env=env, stdin="correct horse\n"
    )
    assert done.code == 0, done.err
    assert done.out == "created operator alice\n"
    done = soapsms(
        "admin", "create", "alice", "--password-stdin", env=env, stdin="long enough\n"
    )
    assert (done.code, done.error_line()) == (
        2,
        "soapsms: operator 'alice' already exists",
    )
    # As `make run` calls it every time: the second run is not an error.
    done = soapsms(
        "admin", "create", "alice", "--password", "long enough", "--exist-ok", env=env
    )
    assert (done.code, done.out) == (0, "operator alice already exists\n")
    assert soapsms("admin", "disable", "alice", env=env).out == (
        "operator alice disabled\n"
    )
    listed = soapsms("admin", "list", env=env).out.split("\t")
    assert listed[:2] == ["alice", "disabled"]
    done = soapsms("admin", "disable", "bob", env=env)
    assert (done.code, done.error_line()) == (2, "soapsms: no operator 'bob'")


def test_connector_pause_resume_and_list(tmp_path: Path) -> None:
    env = _env(tmp_path)
    assert soapsms("db", "upgrade", env=env).code == 0
    assert soapsms("connector", "list", env=env).out == (
        "simulator\tunknown\t-\t0\t0\t0\t-\n"
    )
    assert soapsms("connector", "pause", "simulator", env=env).out == (
        "connector simulator paused\n"
    )
    assert soapsms("connector", "pause", "simulator", env=env).out == (
        "connector simulator was paused\n"
    )
    assert soapsms("connector", "list", env=env).out.startswith("simulator\tpaused\t")
    done = soapsms("connector", "pause", "smsc9", env=env)
    assert (done.code, done.error_line()) == (
        2,
        "soapsms: no connector 'smsc9'; the configured ones are: simulator",
    )
    assert soapsms("connector", "resume", "simulator", env=env).out == (
        "connector simulator resumed\n"
    )
    assert soapsms("connector", "resume", "simulator", env=env).out == (
        "connector simulator was not paused\n"
    )


def test_account_changes_from_the_cli_are_audited(tmp_path: Path) -> None:
    env = _env(tmp_path)
    assert soapsms("db", "upgrade", env=env).code == 0
    create = ("account", "create", "acme", "--password-stdin")
    assert soapsms(*create, env=env, stdin="s3cret\n").code == 0
    assert soapsms("account", "credits", "acme", "--set", "40", env=env).code == 0
    assert soapsms("account", "credits", "acme", "--set", "-1", env=env).code == 2
    assert (
        soapsms("account", "set-password", "acme", "--password", "x", env=env).code == 0
    )
    assert soapsms("account", "block", "acme", "+17036069996", env=env).code == 0
    assert soapsms("account", "show", "acme", env=env).code == 0

    from soapsms.config import Settings
    from soapsms.usecases import operators
    from soapsms.usecases.runtime import Runtime

    rt = Runtime(Settings(database_url=env["SOAPSMS_DATABASE_URL"]))
    try:
        entries = operators.audit_page(rt)
    finally:
        rt.close()
    assert [(e.actor_kind, e.action, e.target, e.detail) for e in entries] == [
        ("cli", "account.block", "acme", "+17036069996"),
        ("cli", "account.set-password", "acme", None),
        ("cli", "account.credits", "acme", "set 40"),
        ("cli", "account.create", "acme", None),
    ]
