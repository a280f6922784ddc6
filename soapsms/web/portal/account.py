"""The account's own pages: dashboard, inbound messages, settings."""

from __future__ import annotations

from dataclasses import asdict

from flask import Blueprint, flash, redirect, render_template, request, url_for
from werkzeug.wrappers import Response

from soapsms.errors import ClientError, LoginThrottled
from soapsms.usecases import operators
from soapsms.usecases import portal as uc
from soapsms.usecases.operators import Actor
from soapsms.web import chart, security
from soapsms.web.context import row_id
from soapsms.web.portal.auth import SESSION_KEY
from soapsms.web.portal.context import account, runtime


def register(bp: Blueprint) -> None:
    bp.add_url_rule("/", "dashboard", dashboard)
    bp.add_url_rule("/inbound", "inbound", inbound)
    bp.add_url_rule("/settings", "settings", settings)
    bp.add_url_rule("/settings/password", "password", password, methods=["POST"])
    bp.add_url_rule(
        "/settings/callback-secret",
        "callback_secret",
        callback_secret,
        methods=["POST"],
    )


def dashboard() -> str:
    figures = uc.dashboard(runtime(), account())
    drawn = chart.stacked(
        [
            (day.day, {k: v for k, v in asdict(day).items() if k != "day"})
            for day in figures.days
        ]
    )
    return render_template(
        "portal/dashboard.html", figures=figures, chart=drawn, sample=uc.TIMING_SAMPLE
    )


def inbound() -> str | tuple[str, int]:
    before = row_id("before")
    found = uc.inbound(runtime(), account(), before)
    return render_template("portal/inbound.html", page=found)


def settings(error: str | None = None, code: int = 200) -> tuple[str, int]:
    secret = uc.callback_secret(runtime(), account())
    page = render_template(
        "portal/settings.html",
        view=account(),
        secret=secret,
        error=error,
        numbers=uc.account_numbers(account()),
    )
    return page, code


def password() -> Response | tuple[str, int]:
    try:
        changed = uc.change_password(
            runtime(),
            account(),
            request.form.get("current", ""),
            request.form.get("new", ""),
            request.form.get("repeat", ""),
            security.client_ip(),
        )
    except LoginThrottled:
        return settings("Too many failed attempts; wait a few minutes.", 429)
    except ClientError as exc:
        return settings(f"Password not changed: {exc.message}.", 400)
    # The change ends every other session of the account; this one goes on.
    security.start(
        SESSION_KEY, changed.account_id, uc.session_stamp(runtime(), changed)
    )
    _audit("account.password", changed.account_id)
    flash("Password changed. Use the new one for SOAP too.", "ok")
    return redirect(url_for("portal.settings"))


def callback_secret() -> Response:
    changed = uc.regenerate_callback_secret(runtime(), account())
    _audit("account.callback_secret", changed.account_id)
    flash("A new status-callback secret is in force: update the receiving end.", "ok")
    return redirect(url_for("portal.settings"))


def _audit(action: str, account_id: str) -> None:
    """An account's own settings change, in the operators' audit."""
    who = Actor("account", account_id, security.client_ip())
    operators.record(runtime(), who, action, account_id)
