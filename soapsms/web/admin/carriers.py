"""Carriers: each connector's state in the live dispatchers; pause and resume."""

from __future__ import annotations

from flask import Blueprint, render_template
from werkzeug.wrappers import Response

from soapsms.usecases import carriers as uc
from soapsms.web.admin.context import act, actor, runtime


def register(bp: Blueprint) -> None:
    bp.add_url_rule("/", "carriers", carriers)
    bp.add_url_rule("/carriers/<name>/pause", "pause", pause, methods=["POST"])
    bp.add_url_rule("/carriers/<name>/resume", "resume", resume, methods=["POST"])


def carriers() -> str:
    return render_template("admin/carriers.html", carriers=uc.carriers(runtime()))


def pause(name: str) -> Response:
    def change() -> str:
        done = uc.pause(runtime(), actor(), name)
        return (
            f"Connector {name} paused: no new submissions through it."
            if done
            else f"Connector {name} was paused already."
        )

    return act(change, "admin.carriers")


def resume(name: str) -> Response:
    def change() -> str:
        done = uc.resume(runtime(), actor(), name)
        return f"Connector {name} resumed." if done else f"{name} was not paused."

    return act(change, "admin.carriers")
