"""`soapsms serve`: migrate, then run the WSGI app under gunicorn."""

from __future__ import annotations

import logging
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
    }


def serve(settings: Settings) -> int:
    engine = make_engine(settings.database_url)
    upgrade(engine)
    engine.dispose()
    host, _, port = settings.bind.rpartition(":")
    print(f"soapsms serving on http://{settings.bind}")
    print(f"  WSDL (SOAP 1.1): http://{host}:{port}/soap?wsdl")
    print(f"  WSDL (SOAP 1.2): http://{host}:{port}/soap12?wsdl")
    _Gunicorn(settings, gunicorn_options(settings)).run()
    return 0
