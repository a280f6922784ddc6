"""Operator login and logout: argon2 through SOAP's throttle, a fresh session."""

from __future__ import annotations

from flask import Blueprint, redirect, render_template, request, url_for
from werkzeug.wrappers import Response

from soapsms.errors import AuthenticationFailed, LoginThrottled
from soapsms.usecases import operators
from soapsms.web import security
from soapsms.web.admin.context import SESSION_KEY, runtime


def register(bp: Blueprint) -> None:
    bp.add_url_rule("/login", "login", login, methods=["GET", "POST"])
    bp.add_url_rule("/logout", "logout", logout, methods=["POST"])


def login() -> str | Response | tuple[str, int]:
    wanted = request.values.get("next")
    if request.method == "GET":
        return render_template("admin/login.html", next=wanted, name="")
    name = request.form.get("name", "")
    password = request.form.get("password", "")
    try:
        if not name.strip() or not password:
            raise AuthenticationFailed("give your operator name and password")
        view = operators.login(runtime(), name, password, security.client_ip())
    except LoginThrottled:
        error, code = "Too many failed logins; wait a few minutes and try again.", 429
    except AuthenticationFailed as exc:
        error, code = f"Login failed: {exc.message}.", 401
    else:
        security.start(SESSION_KEY, view.name, view.stamp)
        home = url_for("admin.carriers")
        return redirect(security.local_next(wanted, "/admin/", home), code=303)
    page = render_template("admin/login.html", next=wanted, name=name, error=error)
    return page, code


def logout() -> Response:
    security.end()
    return redirect(url_for("admin.login"), code=303)
