"""Reports: per day or month by status on the page, and `soapsms report`'s
CSV and JSON (per message, day or month) streamed as downloads."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from flask import Blueprint, Response, render_template, request

from soapsms.errors import ClientError, ValidationError
from soapsms.usecases import portal as uc
from soapsms.usecases import reports
from soapsms.web import chart
from soapsms.web.portal.context import account, day, field, runtime
from soapsms.web.stream import streamed

# download kind -> the summary's period (None: one row per message)
KINDS = {"messages": None, "days": "day", "months": "month"}
TYPES = {"csv": "text/csv; charset=utf-8", "json": "application/json"}


def register(bp: Blueprint) -> None:
    bp.add_url_rule("/reports", "reports", report_page)
    bp.add_url_rule("/reports/download", "download", download)


def _range() -> reports.ReportRange:
    today = runtime().now().date()
    since = day("since", "From") or today - timedelta(days=29)
    until = day("until", "To") or today
    rng = reports.ReportRange(
        account().account_id, since, until, field("zone", "args") or "UTC"
    )
    rng.bounds()  # a bad zone or range, refused before anything is read
    return rng


def report_page(refused: ClientError | None = None) -> tuple[str, int]:
    by = field("by", "args") or "day"
    rows: list[dict[str, Any]] = []
    error, code, rng = None, 200, None
    try:
        rng = _range()
        if refused is not None:
            raise refused
        rows = uc.report_summary(runtime(), rng, by)
    except ClientError as exc:
        error, code = f"{exc.message}.", 400
    drawn = chart.stacked([(r["day"], r) for r in rows]) if rows else None
    page = render_template(
        "portal/reports.html",
        rows=rows,
        fields=reports.SUMMARY_FIELDS,
        chart=drawn,
        rng=rng,
        by=by,
        args=request.args,
        error=error,
    )
    return page, code


def download() -> Response | tuple[str, int]:
    try:
        rng = _range()
        fmt = field("format", "args") or "csv"
        kind = field("kind", "args") or "messages"
        if fmt not in TYPES:
            raise ValidationError(f"a download is csv or json, not {fmt!r}")
        if kind not in KINDS:
            raise ValidationError(
                f"a download is of messages, days or months, not {kind!r}"
            )
    except ClientError as exc:
        return report_page(exc)
    rt = runtime()
    by = KINDS[kind]
    body = streamed(
        lambda out: reports.write(
            rt, rng, out, fmt, summarize=by is not None, by=by or "day"
        )
    )
    name = f"{rng.account_id}-{kind}-{rng.since}-{rng.until}.{fmt}"
    return Response(
        body,
        mimetype=TYPES[fmt],
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )
