"""`soapsms serve`: migrate, then run the WSGI app under gunicorn."""

from __future__ import annotations

import logging
import os
import shutil
import signal
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from gunicorn.app.base import BaseApplication

from soapsms.config import Settings
from soapsms.store.db import make_engine, transaction
from soapsms.store.dispatch_queries import PARTS_PARTITIONED
from soapsms.store.migrate import upgrade
from soapsms.store.partitions import ensure_partitions

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


def child_exit(server: Any, worker: Any) -> None:
    """gunicorn hook: a dead worker's live gauges leave the multiprocess files."""
    if os.environ.get(MULTIPROC_ENV):
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(worker.pid)


MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"


def metrics_dir() -> tuple[str, bool]:
    """The directory the web workers' metrics share, emptied; and whether it is
    ours to remove at exit. An operator's PROMETHEUS_MULTIPROC_DIR (e.g. a
    systemd RuntimeDirectory) is cleaned of the last run's files; otherwise a
    fresh temporary directory: counters from a previous run must not linger."""
    given = os.environ.get(MULTIPROC_ENV)
    if given:
        path = Path(given)
        path.mkdir(parents=True, exist_ok=True)
        for stale in path.glob("*.db"):
            stale.unlink()
        return str(path), False
    return tempfile.mkdtemp(prefix="soapsms-metrics-"), True


THREADS = 4


def gunicorn_options(settings: Settings) -> dict[str, Any]:
    return {
        "child_exit": child_exit,
        "bind": settings.bind,
        "workers": settings.workers,
        "worker_class": "gthread",
        # Four threads a worker. SQLite sends of a worker's threads share one
        # commit (store.group_commit), so more threads mean fewer fsyncs a
        # send: bench (a), one recipient, 16 connections, SQLite 2 threads
        # ~1,750 req/s, 3 ~1,860, 4 ~2,050, 6 ~2,150; PostgreSQL 2 threads
        # ~1,740, 4 ~1,850. Past 5 threads the engine's pool (db.make_engine,
        # 5 connections) overflows, and an overflow connection is opened and
        # closed per request: PostgreSQL 6 threads ~1,490, 8 ~1,400.
        "threads": THREADS,
        # Each worker listens on its own SO_REUSEPORT socket and the kernel
        # spreads new connections over them. On one shared socket whichever
        # worker woke first took them all, and keep-alive clients then stayed
        # with it: bench runs had one worker busy and the other idle.
        "reuse_port": True,
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
    # The coming months' partitions (PostgreSQL), also when no dispatcher runs.
    with transaction(engine, write=True) as conn:
        now = datetime.now(UTC).replace(tzinfo=None)
        ensure_partitions(conn, now)
        ensure_partitions(conn, now, tables=PARTS_PARTITIONED)
    engine.dispose()
    directory, ours = metrics_dir()
    # The SMTP ingress adds its counts to the web's /metrics; the dispatcher
    # keeps its own endpoint (dispatch_metrics_bind), so it is left out.
    children = [
        subprocess.Popen(
            [sys.executable, "-m", "soapsms.cli", *argv],
            env=_companion_env(argv, directory),
        )
        for argv in companions
    ]
    os.environ[MULTIPROC_ENV] = directory
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
        if ours:
            shutil.rmtree(directory, ignore_errors=True)
    return 0


def _companion_env(argv: Sequence[str], directory: str) -> dict[str, str]:
    env = dict(os.environ)
    env.pop(MULTIPROC_ENV, None)
    if "dispatch" not in argv:
        env[MULTIPROC_ENV] = directory
    return env


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
