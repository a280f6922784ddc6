"""Message lookup across accounts (MessageId, BatchId, client reference,
number) and a message's page with its history, parts and receipts."""

from __future__ import annotations

from flask import Blueprint, abort, render_template, request

from soapsms.errors import AccountNotFound, SoapsmsError, ValidationError
from soapsms.usecases import accounts, operations, portal
from soapsms.web.admin.context import runtime

KINDS = (
    ("message_id", "MessageId"),
    ("batch_id", "BatchId"),
    ("reference", "Client reference"),
    ("number", "Number"),
)


def register(bp: Blueprint) -> None:
    bp.add_url_rule("/messages", "messages", lookup)
    bp.add_url_rule("/messages/<account_id>/<message_id>", "message", message)


def lookup() -> tuple[str, int]:
    kind = request.args.get("kind") or "message_id"
    value = (request.args.get("q") or "").strip()
    found: list[operations.Found] | None = None
    error, code = None, 200
    if value:
        try:
            if kind not in dict(KINDS):
                raise ValidationError(f"look up by one of: {', '.join(dict(KINDS))}")
            found = operations.lookup(
                runtime(),
                message_id=value if kind == "message_id" else "",
                batch_id=value if kind == "batch_id" else "",
                reference=value if kind == "reference" else "",
                number=value if kind == "number" else "",
            )
        except SoapsmsError as exc:
            error, code = exc.message, 400
    page = render_template(
        "admin/messages.html",
        kinds=KINDS,
        kind=kind,
        value=value,
        found=found,
        error=error,
    )
    return page, code


def message(account_id: str, message_id: str) -> str:
    rt = runtime()
    try:
        view = accounts.get(rt, account_id)
    except AccountNotFound:
        abort(404, description=f"no account {account_id!r}")
    detail = portal.message_detail(rt, view, message_id.upper())
    if detail is None:
        abort(404, description=f"no message {message_id} of account {account_id}")
    return render_template("admin/message.html", account_id=account_id, detail=detail)
