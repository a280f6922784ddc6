"""What the console's views share: the operator as an audit actor, form
fields, and doing a change with its outcome flashed on the next page."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask import flash, g, redirect, request, url_for
from werkzeug.wrappers import Response

from soapsms.errors import SoapsmsError, ValidationError
from soapsms.usecases.operators import Actor
from soapsms.web import security
from soapsms.web.context import runtime as runtime

SESSION_KEY = "operator"


def actor() -> Actor:
    """The signed-in operator, from where it is, for the audit."""
    return Actor("operator", g.operator.name, security.client_ip())


def field(name: str) -> str:
    """A form field, stripped ("" when absent)."""
    return (request.form.get(name) or "").strip()


def lines(name: str) -> list[str]:
    """A textarea's entries: one a line or comma-separated, blanks dropped."""
    raw = request.form.get(name) or ""
    return [
        part.strip() for part in raw.replace(",", "\n").splitlines() if part.strip()
    ]


def whole(name: str, label: str) -> int:
    value = field(name)
    try:
        return int(value)
    except ValueError:
        raise ValidationError(f"{label}: {value!r} is not a whole number") from None


def act(change: Callable[[], str], endpoint: str, **values: Any) -> Response:
    """Do `change` (it says what it did), flash that or why it could not be
    done, and go back to `endpoint` (post, redirect, get)."""
    try:
        flash(change(), "ok")
    except SoapsmsError as exc:
        flash(exc.message, "error")
    return redirect(url_for(endpoint, **values), code=303)
