"""Messages: the filtered list (SOAP's ListMessages), a message's and a batch's
pages, and cancelling (SOAP's CancelMessage)."""

from __future__ import annotations

from dataclasses import fields
from datetime import datetime, time, timedelta

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from werkzeug.wrappers import Response

from soapsms.domain import status
from soapsms.errors import ClientError
from soapsms.usecases import portal as uc
from soapsms.usecases.query import cancel_messages, list_messages
from soapsms.usecases.requests import ListQuery, Selector
from soapsms.usecases.results import MessagePage, MessageStatus
from soapsms.web.portal.context import account, day, field, runtime

# Every field of the status result, in its declared order: the pages show
# what the one declaration holds.
STATUS_FIELDS = tuple(f.name for f in fields(MessageStatus))
PAGE_SIZE = 50
FILTERS = ("status", "since", "until", "recipient", "client_reference", "batch")


def register(bp: Blueprint) -> None:
    bp.add_url_rule("/messages", "messages", message_list)
    bp.add_url_rule("/messages/<message_id>", "message", message)
    bp.add_url_rule("/messages/<message_id>/cancel", "cancel", cancel, methods=["POST"])
    bp.add_url_rule("/batches/<batch_id>", "batch", batch)
    bp.add_url_rule(
        "/batches/<batch_id>/cancel", "cancel_batch", cancel_batch, methods=["POST"]
    )


def shown_fields(found: list[MessageStatus]) -> list[str]:
    """The status fields that hold something on this page, in declared order."""
    return [
        name
        for name in STATUS_FIELDS
        if any(getattr(m, name) is not None for m in found)
    ]


def _query() -> tuple[ListQuery | None, str | None]:
    """The list's query from the URL, or (None, why nothing can match)."""
    since, until = day("since", "From"), day("until", "To")
    batch_id = field("batch", "args")
    reference = field("client_reference", "args")
    if reference is not None:
        found = uc.batch_of_reference(runtime(), account(), reference)
        if found is None or (batch_id is not None and found != batch_id.upper()):
            return None, f"No batch has the client reference {reference!r}."
        batch_id = found
    return (
        ListQuery(
            since=datetime.combine(since, time.min) if since else None,
            until=datetime.combine(until + timedelta(days=1), time.min)
            if until
            else None,
            status=field("status", "args"),
            recipient=field("recipient", "args"),
            batch_id=batch_id,
            cursor=field("cursor", "args"),
            limit=PAGE_SIZE,
        ),
        None,
    )


def message_list() -> tuple[str, int]:
    error, code = None, 200
    found = MessagePage()
    try:
        query, error = _query()
        if query is not None:
            found = list_messages(runtime(), account(), query)
    except ClientError as exc:
        error, code = f"{exc.message}.", 400
    kept = {k: v for k in FILTERS if (v := field(k, "args"))}
    page = render_template(
        "portal/messages.html",
        page=found,
        columns=shown_fields(found.messages),
        filters=kept,
        statuses=sorted(status.LIFECYCLE),
        error=error,
        first_page=bool(request.args.get("cursor")),
    )
    return page, code


def message(message_id: str) -> str:
    found = uc.message_detail(runtime(), account(), message_id)
    if found is None:
        abort(404, description="You have no message with that id.")
    return render_template("portal/message.html", detail=found, columns=STATUS_FIELDS)


def cancel(message_id: str) -> Response:
    found = uc.message_detail(runtime(), account(), message_id)
    if found is None:
        abort(404, description="You have no message with that id.")
    key = found.status.message_id
    # CancelMessage answers every CANCELLED message, also one cancelled before.
    done = found.cancellable and cancel_messages(
        runtime(), account(), Selector(message_ids=(key,))
    )
    if done:
        flash("Cancelled; its credits are refunded.", "ok")
    else:
        why = (
            f"it is {found.status.status} already"
            if not found.cancellable
            else "a dispatcher took it for sending meanwhile"
        )
        flash(f"Not cancelled: {why}.", "error")
    return redirect(url_for("portal.message", message_id=key))


def batch(batch_id: str) -> str:
    found = uc.batch(runtime(), account(), batch_id)
    if found is None:
        abort(404, description="You have no batch with that id.")
    return render_template(
        "portal/batch.html",
        batch=found,
        columns=shown_fields(found.messages),
        cancellable=any(m.status in status.CANCELLABLE for m in found.messages),
    )


def cancel_batch(batch_id: str) -> Response:
    found = uc.batch(runtime(), account(), batch_id)
    if found is None:
        abort(404, description="You have no batch with that id.")
    before = sum(m.status == status.CANCELLED for m in found.messages)
    done = cancel_messages(runtime(), account(), Selector(batch_id=found.batch_id))
    flash(f"{len(done) - before} messages cancelled; their credits are refunded.", "ok")
    return redirect(url_for("portal.batch", batch_id=found.batch_id))
