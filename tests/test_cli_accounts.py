"""The operator's `soapsms account …` commands."""

from __future__ import annotations

import pytest

from soapsms import cli
from soapsms.usecases import accounts


@pytest.fixture
def run(settings, runtime, monkeypatch, capsys):
    monkeypatch.setattr(cli, "load_settings", lambda path=None: settings)

    def invoke(*argv: str) -> tuple[int, str, str]:
        code = cli.main(list(argv))
        out, err = capsys.readouterr()
        return code, out, err

    return invoke


def test_create_show_list(run, runtime):
    assert (
        run("account", "create", "acme", "--password", "s3cret", "--name", "ACME")[0]
        == 0
    )
    code, out, _ = run("account", "show", "acme")
    assert code == 0
    assert "credits:          unlimited" in out and "rate limit:       none" in out
    assert "max recipients:   10000" in out and "allowed networks: any" in out
    assert "acme\tenabled\tACME" in run("account", "list")[1]
    code, _, err = run("account", "create", "acme", "--password", "x")
    assert code == 2 and "already exists" in err
    assert run("account", "create", "acme", "--password", "x", "--exist-ok")[0] == 0


def test_password_prompt(run, runtime, monkeypatch):
    answers = iter(["typed-pw", "typed-pw"])
    monkeypatch.setattr(cli.getpass, "getpass", lambda prompt="": next(answers))
    assert run("account", "create", "acme")[0] == 0
    from soapsms.usecases.auth import authenticate
    from soapsms.usecases.results import Credentials

    view = authenticate(runtime, [Credentials("acme", "typed-pw", "body")], "127.0.0.1")
    assert view.account_id == "acme"


def test_settings_commands(run, runtime):
    run("account", "create", "acme", "--password", "s3cret")
    assert (
        run(
            "account",
            "set",
            "acme",
            "--default-sender",
            "ACME",
            "--allowed-senders",
            "ACME,Alerts",
            "--max-recipients",
            "500",
            "--default-region",
            "gb",
            "--callback-secret",
            "whsec",
        )[0]
        == 0
    )
    view = accounts.get(runtime, "acme")
    assert (
        view.default_sender,
        view.allowed_senders,
        view.max_recipients,
        view.default_region,
    ) == ("ACME", ("ACME", "Alerts"), 500, "GB")
    assert view.callback_secret_set
    assert run("account", "credits", "acme", "--set", "100")[0] == 0
    assert run("account", "credits", "acme", "--add", "50")[0] == 0
    assert accounts.get(runtime, "acme").credits == 150
    assert run("account", "credits", "acme", "--unlimited")[0] == 0
    assert accounts.get(runtime, "acme").credits is None
    assert run("account", "rate-limit", "acme", "120")[0] == 0
    assert accounts.get(runtime, "acme").rate_limit_per_minute == 120
    assert run("account", "rate-limit", "acme", "--off")[0] == 0
    assert accounts.get(runtime, "acme").rate_limit_per_minute is None
    assert run("account", "allow-network", "acme", "10.0.0.0/8", "192.0.2.7")[0] == 0
    assert accounts.get(runtime, "acme").allowed_networks == (
        "10.0.0.0/8",
        "192.0.2.7/32",
    )
    assert run("account", "allow-network", "acme", "--any")[0] == 0
    assert accounts.get(runtime, "acme").allowed_networks == ()
    assert run("account", "block", "acme", "07700 900123", "+447700900124")[0] == 0
    assert accounts.blocked_numbers(runtime, "acme") == [
        "+447700900123",
        "+447700900124",
    ]
    assert run("account", "unblock", "acme", "+447700900123")[0] == 0
    assert accounts.blocked_numbers(runtime, "acme") == ["+447700900124"]
    assert run("account", "disable", "acme")[0] == 0
    assert accounts.get(runtime, "acme").disabled
    assert run("account", "enable", "acme")[0] == 0
    assert run("account", "set-password", "acme", "--password", "new-pw")[0] == 0


def test_bad_input_is_a_clear_error(run, runtime):
    run("account", "create", "acme", "--password", "s3cret")
    for argv, needle in (
        (("account", "show", "ghost"), "no account"),
        (("account", "set", "acme", "--default-region", "XX"), "unknown region"),
        (("account", "allow-network", "acme", "not-a-net"), "not a network"),
        (("account", "block", "acme", "abc"), "not a valid number"),
        (("account", "create", "bad id!", "--password", "x"), "account id"),
    ):
        code, _, err = run(*argv)
        assert code == 2 and needle in err, (argv, err)
