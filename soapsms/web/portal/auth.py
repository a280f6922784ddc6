"""Login and logout: SOAP's authentication, then a fresh signed session."""

from __future__ import annotations

from flask import Blueprint, redirect, render_template, request, url_for
from werkzeug.wrappers import Response

from soapsms.errors import AccessDenied, AuthenticationFailed, LoginThrottled
from soapsms.usecases import portal as uc
from soapsms.web import security
from soapsms.web.portal.context import runtime

SESSION_KEY = "account"


def register(bp: Blueprint) -> None:
    bp.add_url_rule("/login", "login", login, methods=["GET", "POST"])
    bp.add_url_rule("/logout", "logout", logout, methods=["POST"])


def login() -> str | Response | tuple[str, int]:
    wanted = request.values.get("next")
    if request.method == "GET":
        return render_template("portal/login.html", next=wanted, account_id="")
    account_id = request.form.get("account_id", "")
    password = request.form.get("password", "")
    try:
        if not account_id.strip() or not password:
            raise AuthenticationFailed("give your account id and password")
        view, stamp = uc.login(runtime(), account_id, password, security.client_ip())
    except LoginThrottled:
        error, code = "Too many failed logins; wait a few minutes and try again.", 429
    except AccessDenied as exc:
        error, code = f"Access denied: {exc.message}.", 403
    except AuthenticationFailed as exc:
        error, code = f"Login failed: {exc.message}.", 401
    else:
        security.start(SESSION_KEY, view.account_id, stamp)
        home = url_for("portal.dashboard")
        return redirect(security.local_next(wanted, "/portal/", home))
    page = render_template(
        "portal/login.html", next=wanted, account_id=account_id, error=error
    )
    return page, code


def logout() -> Response:
    security.end()
    return redirect(url_for("portal.login"))
