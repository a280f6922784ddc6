"""The Runtime a web app serves, kept on the Flask app; paging arguments views share."""

from __future__ import annotations

from flask import Flask, current_app, request

from soapsms.usecases.runtime import Runtime

_KEY = "soapsms.runtime"


def install(app: Flask, rt: Runtime) -> None:
    app.extensions[_KEY] = rt


def runtime() -> Runtime:
    rt: Runtime = current_app.extensions[_KEY]
    return rt


def row_id(name: str) -> int | None:
    """A paging query argument naming a row id; None (the first page) for
    anything else: str.isdigit admits "²", and 19 digits may pass a BIGINT."""
    raw = request.args.get(name) or ""
    if raw.isascii() and raw.isdigit() and len(raw) < 19:
        return int(raw)
    return None
