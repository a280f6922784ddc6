"""The customer portal's blueprint: an account logs in and sees only its own data."""

from __future__ import annotations

from flask import Blueprint, g, redirect, request, url_for
from werkzeug.wrappers import Response

from soapsms.usecases import portal as uc
from soapsms.web import security
from soapsms.web.portal import account, auth, messages, reports, send
from soapsms.web.portal.auth import SESSION_KEY
from soapsms.web.portal.context import runtime

# Endpoints open without a session.
PUBLIC = frozenset({"portal.login"})


def blueprint() -> Blueprint:
    bp = Blueprint("portal", __name__, template_folder="../templates")
    bp.before_request(_require_login)
    for module in (auth, account, send, messages, reports):
        module.register(bp)
    return bp


def _require_login() -> Response | None:
    if request.endpoint in PUBLIC:
        return None
    live = security.current(SESSION_KEY)
    found = (
        uc.session_account(runtime(), live[0], live[1], security.client_ip())
        if live is not None
        else None
    )
    if found is None:
        security.end()
        wanted = request.full_path if request.method == "GET" else None
        return redirect(url_for("portal.login", next=wanted))
    g.account = found
    return None
