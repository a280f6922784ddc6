"""Send: the form, and SOAP's SendMessage use case behind it."""

from __future__ import annotations

import json

from flask import Blueprint, render_template, request

from soapsms.domain import encoding
from soapsms.errors import ClientError, ValidationError
from soapsms.usecases.requests import SendRequest
from soapsms.usecases.send import MAX_PARTS, MAX_VALIDITY_MINUTES, submit_message
from soapsms.web.portal.context import account, field, moment, number, runtime

# The counter's rules, handed to static/counter.js from the domain's tables.
ALPHABET = json.dumps(
    {
        "basic": "".join(c for c in encoding.GSM_BASIC if c != "\x1b"),
        "extension": "".join(encoding.GSM_EXTENSION),
        "gsm7": [encoding.GSM7_SINGLE, encoding.GSM7_PART],
        "ucs2": [encoding.UCS2_SINGLE, encoding.UCS2_PART],
        "max_parts": MAX_PARTS,
    },
    ensure_ascii=False,
)


def register(bp: Blueprint) -> None:
    bp.add_url_rule("/send", "send", send, methods=["GET", "POST"])


def _form(error: str | None = None, code: int = 200) -> tuple[str, int]:
    page = render_template(
        "portal/send.html",
        form=request.form,
        alphabet=ALPHABET,
        encodings=encoding.ENCODINGS,
        max_validity=MAX_VALIDITY_MINUTES,
        error=error,
    )
    return page, code


def send() -> tuple[str, int]:
    if request.method == "GET":
        return _form()
    try:
        # Browsers submit a textarea's line breaks as CR LF; the text the
        # counter showed has one character per break.
        text = (request.form.get("text") or "").replace("\r\n", "\n")
        recipients = (request.form.get("recipients") or "").strip()
        if not recipients:
            raise ValidationError("give at least one recipient")
        wanted = SendRequest(
            text=text,
            recipients_text=recipients,
            sender=field("sender"),
            client_reference=field("client_reference"),
            scheduled_for=moment("scheduled_for", "Schedule"),
            validity_minutes=number("validity", "Validity", 1, MAX_VALIDITY_MINUTES),
            encoding=field("encoding"),
        )
        result = submit_message(runtime(), account(), wanted)
    except ClientError as exc:
        return _form(f"Nothing was sent: {exc.message}.", 400)
    return render_template("portal/sent.html", result=result), 200
