"""Web sessions, CSRF tokens and security headers, shared by the portal and console.

Sessions are signed cookies (Flask's itsdangerous serializer) keyed from the
gateway-wide secret in the store, so every worker and host accepts them and
nothing needs a table. They are HttpOnly, SameSite=Strict and Secure when the
request came over TLS (directly or through a trusted proxy), and they expire
after IDLE of no use or at most LIFETIME after login.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from datetime import timedelta

from flask import Flask, Request, Response, abort, request, session
from flask.sessions import SecureCookieSessionInterface
from itsdangerous import URLSafeTimedSerializer

from soapsms.usecases.runtime import Runtime

# A session unused this long is over; and one this old, used or not.
IDLE = timedelta(minutes=30)
LIFETIME = timedelta(hours=12)
CSRF_FIELD = "csrf_token"
# What wsgi.py puts in the environ: the client as a trusted proxy names it.
ENV_CLIENT_IP = "soapsms.client_ip"
ENV_SCHEME = "soapsms.scheme"

CONTENT_SECURITY_POLICY = "; ".join(
    [
        "default-src 'none'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self'",
        "connect-src 'self'",
        "form-action 'self'",
        "frame-ancestors 'none'",
        "base-uri 'none'",
    ]
)
HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",
    "Cross-Origin-Opener-Policy": "same-origin",
}


def clock() -> float:
    """Seconds since the epoch, for the sessions' clocks (tests move it)."""
    return time.time()


def client_ip() -> str:
    return str(request.environ.get(ENV_CLIENT_IP) or request.remote_addr or "")


def over_tls(req: Request) -> bool:
    return str(req.environ.get(ENV_SCHEME) or req.scheme) == "https"


class GatewaySessions(SecureCookieSessionInterface):
    """Signed-cookie sessions keyed from the store's secret, read lazily (not
    at app creation, which must not touch the store)."""

    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime

    def get_signing_serializer(self, app: Flask) -> URLSafeTimedSerializer | None:
        key = hmac.digest(self.runtime.secret(), b"web-session", hashlib.sha256)
        return URLSafeTimedSerializer(
            key,
            salt=self.salt,
            serializer=self.serializer,
            signer_kwargs={
                "key_derivation": self.key_derivation,
                "digest_method": self.digest_method,
            },
        )

    def get_cookie_secure(self, app: Flask) -> bool:
        return over_tls(request)


def install(app: Flask, runtime: Runtime) -> None:
    """Sessions, CSRF checks and headers for every blueprint of `app`."""
    app.session_interface = GatewaySessions(runtime)
    app.config.update(
        SESSION_COOKIE_NAME="soapsms_session",
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Strict",
        SESSION_COOKIE_PATH="/",
        PERMANENT_SESSION_LIFETIME=LIFETIME,
        # Form posts are small; a pasted list of 10,000 numbers is ~200 kB.
        MAX_CONTENT_LENGTH=1024 * 1024,
    )
    app.before_request(_refuse_nul)
    app.before_request(_check_csrf)
    app.after_request(_headers)
    app.jinja_env.globals["csrf_token"] = csrf_token
    app.jinja_env.globals["CSRF_FIELD"] = CSRF_FIELD


def csrf_token() -> str:
    """The session's CSRF token, made on first use (anonymous sessions too)."""
    token = session.get("csrf")
    if not isinstance(token, str):
        token = session["csrf"] = secrets.token_urlsafe(32)
    return token


def _refuse_nul() -> None:
    """A NUL in the path, a query or a form field: a clear 400 before any
    view runs (PostgreSQL refuses NUL in text, SQLite would store it)."""
    values = [request.path, *request.args.keys(), *request.args.values()]
    if request.method not in ("GET", "HEAD", "OPTIONS"):
        values += [*request.form.keys(), *request.form.values()]
    if any("\x00" in value for value in values):
        abort(400, description="a field holds a NUL character; remove it and retry")


def _check_csrf() -> None:
    if request.method in ("GET", "HEAD", "OPTIONS"):
        return
    sent = request.form.get(CSRF_FIELD, "")
    expected = session.get("csrf")
    if not isinstance(expected, str) or not hmac.compare_digest(sent, expected):
        abort(400, description="the form has expired; reload the page and try again")


def _headers(response: Response) -> Response:
    for name, value in HEADERS.items():
        response.headers.setdefault(name, value)
    if over_tls(request):
        response.headers.setdefault("Strict-Transport-Security", "max-age=31536000")
    if not request.path.startswith("/static/"):
        # Pages show one account's data: never kept by a shared cache.
        response.headers.setdefault("Cache-Control", "no-store")
    return response


def start(user_key: str, subject: str, stamp: str) -> None:
    """A fresh session for a login: new CSRF token, its clock started."""
    session.clear()
    now = int(clock())
    session.permanent = True
    session[user_key] = subject
    session["stamp"] = stamp
    session["since"] = now
    session["seen"] = now
    session["csrf"] = secrets.token_urlsafe(32)


def current(user_key: str) -> tuple[str, str] | None:
    """(subject, stamp) of a live session, touching its idle clock; None
    (and the session cleared) when there is none or it has expired."""
    subject = session.get(user_key)
    if not isinstance(subject, str):
        return None
    now = int(clock())
    since, seen = session.get("since", 0), session.get("seen", 0)
    if (
        not isinstance(since, int)
        or not isinstance(seen, int)
        or now - seen > IDLE.total_seconds()
        or now - since > LIFETIME.total_seconds()
    ):
        session.clear()
        return None
    # Re-signed at most once a minute, not on every request.
    if now - seen >= 60:
        session["seen"] = now
    stamp = session.get("stamp", "")
    return subject, stamp if isinstance(stamp, str) else ""


def local_next(value: str | None, area: str, fallback: str) -> str:
    """Where to go after a login: a path under `area` ("/portal/", "/admin/")
    of this site only, never a redirect elsewhere; else `fallback`."""
    if value and value.startswith(area) and not value.startswith("//"):
        return value
    return fallback


def end() -> None:
    session.clear()
