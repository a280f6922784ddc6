"""`soapsms serve`: migrate, then run the WSGI app under gunicorn."""

from __future__ import annotations

import logging
import signal
import subprocess
import sys
from collections.abc import Sequence
from typing import Any

from gunicorn.app.base import BaseApplication

from soapsms.config import Settings
from soapsms.store.db import make_engine
from soapsms.store.migrate import upgrade

logger = logging.getLogger(__name__)


class _Gunicorn(BaseApplication):  # type: ignore[misc]
    def __init__(self, settings: Settings, options: dict[str, Any]) -> None:
        self.settings = settings
        self.options = options
        super().__init__()

    def load_config(self) -> None:
        for key, value in self.options.items():
            if key in self.cfg.settings:  # settings newer gunicorns added
                self.cfg.set(key, value)

    def load(self) -> Any:
        # Called in each worker after the fork: engines are never shared.
        from soapsms.wsgi import create_app

        return create_app(self.settings)


def gunicorn_options(settings: Settings) -> dict[str, Any]:
    return {
        "bind": settings.bind,
        "workers": settings.workers,
        "worker_class": "gthread",
        "threads": 4,
        "timeout": 60,
        "graceful_timeout": 20,
        "keepalive": 5,
        # The access log carries no query strings or bodies, hence no secrets.
        "accesslog": "-",
        "access_log_format": '%(h)s "%(m)s %(U)s" %(s)s %(B)s %(M)sms',
        "errorlog": "-",
        "loglevel": settings.log_level.lower(),
        "preload_app": False,
        # One control socket per user would be fought over by every gunicorn
        # on the machine (tests, benchmarks, a second node).
        "control_socket_disable": True,
    }


def serve(settings: Settings, companions: Sequence[Sequence[str]] = ()) -> int:
    """Migrate, start each companion (`soapsms <argv…>`, e.g. the SMTP ingress or
    the dispatcher: once, not per web worker), then run gunicorn until stopped;
    the companions are stopped with it."""
    engine = make_engine(settings.database_url)
    upgrade(engine)
    engine.dispose()
    children = [
        subprocess.Popen([sys.executable, "-m", "soapsms.cli", *argv])
        for argv in companions
    ]
    base = f"http://{settings.bind}"
    print(
        f"soapsms serving on {base}\n"
        f"  WSDL (SOAP 1.1): {base}/soap?wsdl\n"
        f"  WSDL (SOAP 1.2): {base}/soap12?wsdl",
        flush=True,
    )
    try:
        _Gunicorn(settings, gunicorn_options(settings)).run()
    finally:
        _stop(children)
    return 0


def _stop(children: list[subprocess.Popen[bytes]]) -> None:
    for child in children:
        if child.poll() is None:
            child.send_signal(signal.SIGTERM)
    for child in children:
        try:
            child.wait(timeout=20)
        except subprocess.TimeoutExpired:
            logger.warning("companion %s did not stop; killing it", child.args)
            child.kill()
            child.wait()
