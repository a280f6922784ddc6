"""Queue: due messages per route, back-offs, paused accounts; requeue, retry
a selection, pause an account's sending."""

from __future__ import annotations

from flask import Blueprint, render_template, request
from werkzeug.wrappers import Response

from soapsms.errors import SoapsmsError, ValidationError
from soapsms.usecases import accounts, operations
from soapsms.usecases.resend import RESENDABLE
from soapsms.web.admin.context import act, actor, field, runtime


def register(bp: Blueprint) -> None:
    bp.add_url_rule("/queue", "queue", queue)
    bp.add_url_rule("/queue/requeue", "requeue", requeue, methods=["POST"])
    bp.add_url_rule("/queue/retry", "retry", retry, methods=["POST"])
    bp.add_url_rule("/queue/pause", "pause_account", pause_account, methods=["POST"])
    bp.add_url_rule("/queue/resume", "resume_account", resume_account, methods=["POST"])


def queue() -> tuple[str, int]:
    rt = runtime()
    account_id = (request.args.get("account") or "").strip()
    wanted = (request.args.get("status") or "FAILED").strip().upper()
    ended: list[operations.Found] = []
    error, code = None, 200
    if account_id:
        try:
            if wanted not in RESENDABLE:
                raise ValidationError(
                    f"retry lists messages that ended {', '.join(sorted(RESENDABLE))}"
                )
            ended = operations.account_messages(rt, account_id, wanted)
        except SoapsmsError as exc:
            error, code = exc.message, 400
    page = render_template(
        "admin/queue.html",
        view=operations.queue_view(rt),
        accounts=accounts.list_all(rt),
        account_id=account_id,
        wanted=wanted,
        statuses=sorted(RESENDABLE),
        ended=ended,
        error=error,
    )
    return page, code


def _selection() -> list[tuple[str, str]]:
    """The ticked messages: "account message-id" each."""
    chosen = []
    for value in request.form.getlist("message"):
        account_id, _, message_id = value.partition(" ")
        if account_id and message_id:
            chosen.append((account_id, message_id))
    return chosen


def requeue() -> Response:
    def change() -> str:
        done = operations.requeue_selected(runtime(), actor(), _selection())
        moved = sum(1 for _id, what in done if what == "due now")
        others = "; ".join(f"{i}: {w}" for i, w in done if w != "due now")
        return f"{moved} of {len(done)} due now." + (f" {others}" if others else "")

    return act(change, "admin.queue")


def retry() -> Response:
    def change() -> str:
        done = operations.retry_selected(runtime(), actor(), _selection())
        sent = [f"{old} → {new}" for old, new, _state in done if new != "-"]
        refused = [f"{old}: {state}" for old, new, state in done if new == "-"]
        text = f"{len(sent)} of {len(done)} sent again as new messages"
        return (
            text
            + (": " + ", ".join(sent) if sent else "")
            + ("; not sent: " + "; ".join(refused) if refused else "")
        )

    account_id = field("account")
    return act(change, "admin.queue", account=account_id, status=field("status"))


def pause_account() -> Response:
    account_id = field("account")

    def change() -> str:
        if not account_id:
            raise ValidationError("choose an account to pause")
        done = operations.pause_account(runtime(), actor(), account_id)
        return (
            f"Sending paused for {account_id}: its messages wait QUEUED."
            if done
            else f"Sending was paused for {account_id} already."
        )

    return act(change, "admin.queue")


def resume_account() -> Response:
    account_id = field("account")

    def change() -> str:
        done = operations.resume_account(runtime(), actor(), account_id)
        return (
            f"Sending resumed for {account_id}."
            if done
            else f"Sending was not paused for {account_id}."
        )

    return act(change, "admin.queue")
