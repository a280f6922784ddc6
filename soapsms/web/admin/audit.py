"""The audit: every operator action and account-settings change, newest first."""

from __future__ import annotations

from flask import Blueprint, render_template, request

from soapsms.usecases import operators
from soapsms.web.admin.context import runtime
from soapsms.web.context import row_id

PAGE = 100


def register(bp: Blueprint) -> None:
    bp.add_url_rule("/audit", "audit", audit)


def audit() -> str:
    actor = (request.args.get("actor") or "").strip()
    target = (request.args.get("target") or "").strip()
    entries = operators.audit_page(
        runtime(),
        before_id=row_id("before"),
        actor=actor or None,
        target=target or None,
        limit=PAGE + 1,
    )
    return render_template(
        "admin/audit.html",
        entries=entries[:PAGE],
        more=entries[PAGE - 1].id if len(entries) > PAGE else None,
        actor=actor,
        target=target,
    )
