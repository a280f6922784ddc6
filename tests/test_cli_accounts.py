"""The operator's `soapsms account …` commands."""

from __future__ import annotations

import pytest

from soapsms import cli
from soapsms.cli import common as cli_common
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
    monkeypatch.setattr(cli_common.getpass, "getpass", lambda prompt="": next(answers))
    monkeypatch.setattr(cli_common.sys.stdin, "isatty", lambda: True)
    assert run("account", "create", "acme")[0] == 0
    from soapsms.usecases.auth import authenticate
    from soapsms.usecases.requests import Credentials

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


def test_summaries_count_blocked_numbers_as_show_does(run, runtime):
    run("account", "create", "acme", "--password", "s3cret")
    run("account", "block", "acme", "+447700900123", "+447700900124")
    for argv in (("set", "acme", "--name", "ACME"), ("credits", "acme", "--set", "5")):
        code, out, _ = run("account", *argv)
        assert code == 0 and "blocked numbers:  2" in out, out
    code, out, _ = run("account", "blocked", "acme")
    assert code == 0 and out.split() == ["+447700900123", "+447700900124"]


def test_credits_never_clamp_nor_limit_an_unlimited_account(run, runtime):
    run("account", "create", "acme", "--password", "s3cret")
    code, _, err = run("account", "credits", "acme", "--add", "100")
    assert code == 2 and "unlimited credits" in err and "--set" in err
    assert accounts.get(runtime, "acme").credits is None
    run("account", "credits", "acme", "--set", "100")
    code, _, err = run("account", "credits", "acme", "--add", "-500")
    assert code == 2 and "nothing changed" in err
    assert accounts.get(runtime, "acme").credits == 100
    assert run("account", "credits", "acme", "--add", "-40")[0] == 0
    assert accounts.get(runtime, "acme").credits == 60


def test_allow_network_adds_and_removes(run, runtime):
    run("account", "create", "acme", "--password", "s3cret")
    run("account", "allow-network", "acme", "10.0.0.0/8")
    assert run("account", "allow-network", "acme", "--add", "192.0.2.7")[0] == 0
    assert accounts.get(runtime, "acme").allowed_networks == (
        "10.0.0.0/8",
        "192.0.2.7/32",
    )
    assert run("account", "allow-network", "acme", "--remove", "10.0.0.0/8")[0] == 0
    assert accounts.get(runtime, "acme").allowed_networks == ("192.0.2.7/32",)
    code, _, err = run("account", "allow-network", "acme", "--remove", "192.0.2.7")
    assert code == 2 and "--any" in err
    code, _, err = run("account", "allow-network", "acme", "--remove", "10.1.0.0/16")
    assert code == 2 and "not in the account's networks" in err


def test_delete_only_an_account_without_messages(run, runtime, monkeypatch):
    from tests.dispatch_helpers import send_to

    run("account", "create", "idle", "--password", "s3cret")
    run("account", "block", "idle", "+447700900123")
    code, _, err = run("account", "delete", "idle")
    assert code == 2 and "--yes" in err
    assert run("account", "delete", "idle", "--yes")[0] == 0
    assert [a.account_id for a in accounts.list_all(runtime)] == []
    run("account", "create", "acme", "--password", "s3cret")
    send_to(runtime, "acme", "+17036069996")
    code, _, err = run("account", "delete", "acme", "--yes")
    assert code == 2 and "disable it instead" in err
