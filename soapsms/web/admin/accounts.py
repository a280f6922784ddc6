"""Accounts: list, create, and change what `soapsms account` changes, through
usecases/accounts.py; each change audited."""

from __future__ import annotations

from collections.abc import Callable

from flask import Blueprint, abort, render_template
from werkzeug.wrappers import Response

from soapsms.errors import AccountNotFound, ValidationError
from soapsms.usecases import accounts as uc
from soapsms.usecases import operations
from soapsms.usecases.operators import audited
from soapsms.web.admin.context import act, actor, field, lines, runtime, whole


def register(bp: Blueprint) -> None:
    bp.add_url_rule("/accounts", "accounts", accounts)
    bp.add_url_rule("/accounts", "create_account", create, methods=["POST"])
    bp.add_url_rule("/accounts/<account_id>", "account", account)
    bp.add_url_rule(
        "/accounts/<account_id>/<what>", "change_account", change, methods=["POST"]
    )


def accounts() -> str:
    rt = runtime()
    paused = {p.name for p in operations.paused_accounts(rt)}
    return render_template(
        "admin/accounts.html", accounts=uc.list_all(rt), paused=paused
    )


def create() -> Response:
    account_id = field("account_id")

    def change() -> str:
        rt = runtime()
        view = audited(
            rt,
            actor(),
            "account.create",
            account_id,
            lambda: uc.create_account(
                rt, account_id, field("password"), field("name") or None
            ),
        )
        return f"Account {view.account_id} created."

    return act(change, "admin.accounts")


def account(account_id: str) -> str:
    rt = runtime()
    try:
        view = uc.get(rt, account_id)
    except AccountNotFound:
        abort(404, description=f"no account {account_id!r}")
    paused = account_id in {p.name for p in operations.paused_accounts(rt)}
    return render_template(
        "admin/account.html",
        view=view,
        paused=paused,
        blocked=uc.blocked_numbers(rt, account_id),
    )


def _credits(account_id: str) -> tuple[str, Callable[[], object]]:
    rt, how = runtime(), field("how")
    if how == "unlimited":
        return "unlimited", lambda: uc.set_credits(rt, account_id, unlimited=True)
    amount = whole("amount", "Credits")
    if how == "add":
        return f"add {amount}", lambda: uc.set_credits(rt, account_id, add=amount)
    return f"set {amount}", lambda: uc.set_credits(rt, account_id, balance=amount)


def _rate(account_id: str) -> tuple[str, Callable[[], object]]:
    rt = runtime()
    if not field("per_minute"):
        return "off", lambda: uc.set_rate_limit(rt, account_id, None)
    per_minute = whole("per_minute", "Rate limit")
    return f"{per_minute}/min", lambda: uc.set_rate_limit(rt, account_id, per_minute)


def _plan(what: str, account_id: str) -> tuple[str, Callable[[], object]]:
    """What a form asks, as (audit detail, the change)."""
    rt = runtime()
    if what == "state":
        disabled = field("state") == "disable"
        detail = "disable" if disabled else "enable"
        return detail, lambda: uc.set_disabled(rt, account_id, disabled)
    if what == "credits":
        return _credits(account_id)
    if what == "rate":
        return _rate(account_id)
    if what == "networks":
        networks = lines("networks")
        detail = " ".join(networks) or "any"
        return detail, lambda: uc.set_networks(rt, account_id, networks)
    if what == "senders":
        senders = lines("senders")
        detail = " ".join(senders) or "any"
        return detail, lambda: uc.set_fields(rt, account_id, allowed_senders=senders)
    if what in ("block", "unblock"):
        numbers = lines("numbers")
        if not numbers:
            raise ValidationError("give at least one number")
        step = uc.block if what == "block" else uc.unblock
        return " ".join(numbers), lambda: step(rt, account_id, numbers)
    abort(404)


_DONE = {
    "state": "State changed",
    "credits": "Credits changed",
    "rate": "Rate limit changed",
    "networks": "Allowed networks changed",
    "senders": "Allowed senders changed",
    "block": "Numbers blocked",
    "unblock": "Numbers unblocked",
}


def change(account_id: str, what: str) -> Response:
    if what == "sending":
        return _sending(account_id)

    def run() -> str:
        detail, step = _plan(what, account_id)
        audited(runtime(), actor(), f"account.{what}", account_id, step, detail)
        return f"{_DONE[what]}: {detail}."

    return act(run, "admin.account", account_id=account_id)


def _sending(account_id: str) -> Response:
    def run() -> str:
        rt = runtime()
        if field("sending") == "pause":
            operations.pause_account(rt, actor(), account_id)
            return "Sending paused: the account's messages wait QUEUED."
        operations.resume_account(rt, actor(), account_id)
        return "Sending resumed."

    return act(run, "admin.account", account_id=account_id)
