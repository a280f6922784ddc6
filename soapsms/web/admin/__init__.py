"""The operator console's blueprint, mounted at /admin: operators only.

An account's session never opens these pages (operators are not accounts);
every form carries the session's CSRF token (web.security checks it) and
every change is audited by the use cases behind it.
"""

from __future__ import annotations

from flask import Blueprint, g, redirect, request, url_for
from werkzeug.wrappers import Response

from soapsms.usecases import operators
from soapsms.web import security
from soapsms.web.admin import accounts, audit, auth, carriers, messages, queue
from soapsms.web.admin.context import SESSION_KEY, runtime

# Endpoints open without an operator's session.
PUBLIC = frozenset({"admin.login"})


def blueprint() -> Blueprint:
    """The console's pages; web/app.py registers this under /admin."""
    bp = Blueprint("admin", __name__, template_folder="../templates")
    bp.before_request(_require_operator)
    for module in (auth, carriers, queue, accounts, messages, audit):
        module.register(bp)
    return bp


def _require_operator() -> Response | None:
    if request.endpoint in PUBLIC:
        return None
    live = security.current(SESSION_KEY)
    found = operators.session_operator(runtime(), live[0], live[1]) if live else None
    if found is None:
        # An account's portal session, if any, is left as it is.
        wanted = request.full_path if request.method == "GET" else None
        return redirect(url_for("admin.login", next=wanted))
    g.operator = found
    return None
