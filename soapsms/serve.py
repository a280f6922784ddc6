"""`soapsms serve`: migrate, then run the WSGI app under gunicorn."""

from __future__ import annotations

import logging
import os
import shutil
import signal
import socket
import tempfile
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from gunicorn.app.base import BaseApplication

from soapsms import logs
from soapsms.config import Settings, split_address
from soapsms.errors import ConfigError
from soapsms.store.db import make_engine, transaction
from soapsms.store.migrate import upgrade
from soapsms.store.partitions import ensure_months_ahead
from soapsms.supervisor import Supervisor, die_with_parent

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


def post_fork(server: Any, worker: Any) -> None:
    """gunicorn hook: a worker quits at once (SIGQUIT) when its master dies,
    even by SIGKILL, so that it does not hold the port a restarted serve needs;
    gunicorn's own check of its parent comes only once a second or later."""
    die_with_parent(signal.SIGQUIT)


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
        "post_fork": post_fork,
        "bind": settings.bind,
        "workers": settings.workers,
        # gthread whose event loop reads each request before a thread gets it,
        # so silent or trickling clients hold no thread (soapsms.serve_worker).
        "worker_class": "soapsms.serve_worker.GuardedThreadWorker",
        # Four threads a worker: SQLite sends of a worker's threads share one
        # commit (store.group_commit), and past 5 the engine's pool of 5
        # overflows (docs/performance.md, gunicorn threads and sockets).
        "threads": THREADS,
        # Each worker listens on its own SO_REUSEPORT socket and the kernel
        # spreads new connections over them; on one shared socket the first
        # worker to wake takes them all (docs/performance.md).
        "reuse_port": True,
        "timeout": 60,
        "graceful_timeout": 20,
        "keepalive": 5,
        # The access log carries no query strings or bodies, hence no secrets.
        "accesslog": "-",
        "access_log_format": '%(h)s "%(m)s %(U)s" %(s)s %(B)s %(M)sms',
        "errorlog": "-",
        "loglevel": settings.log_level.lower(),
        # The same format as soapsms's own lines (timestamps on access lines).
        "logconfig_dict": logs.config(settings.log_level, settings.log_format),
        "preload_app": False,
        # One control socket per user would be fought over by every gunicorn
        # on the machine (tests, benchmarks, a second node).
        "control_socket_disable": True,
    }


def serve(settings: Settings, companions: Sequence[Sequence[str]] = ()) -> int:
    """Migrate, start each companion (`soapsms <argv…>`, e.g. the SMTP ingress or
    the dispatcher: once, not per web worker), then run gunicorn until stopped;
    a companion that exits meanwhile is restarted, and they stop with it
    (soapsms.supervisor)."""
    # gunicorn's workers share their port (SO_REUSEPORT): without this check a
    # second gateway would share it too, silently, and take half the calls.
    ensure_free(settings.bind, "the gateway (bind)")
    for argv in companions:
        if "smtp" in argv and "--bind" in argv:
            ensure_free(argv[list(argv).index("--bind") + 1], "SMTP (smtp_bind)")
    if not settings.routes.configured():
        warn_no_carrier()
    engine = make_engine(settings.database_url, timeout=settings.store_timeout_seconds)
    upgrade(engine)
    # The coming months' partitions (PostgreSQL), also when no dispatcher runs.
    with transaction(engine, write=True) as conn:
        now = datetime.now(UTC).replace(tzinfo=None)
        ensure_months_ahead(conn, now)
    engine.dispose()
    directory, ours = metrics_dir()
    # The SMTP ingress and the dispatcher add their counts to the web's
    # /metrics (the dispatcher's own endpoint, if any, shows them too).
    supervisor = Supervisor(
        [(argv, _companion_env(argv, directory)) for argv in companions]
    )
    supervisor.start()
    os.environ[MULTIPROC_ENV] = directory
    base = f"http://{settings.bind}"
    print(
        f"soapsms serving on {base}\n"
        f"  WSDL (SOAP 1.1): {base}/soap?wsdl\n"
        f"  WSDL (SOAP 1.2): {base}/soap12?wsdl",
        flush=True,
    )
    master = os.getpid()
    try:
        _Gunicorn(settings, gunicorn_options(settings)).run()
    finally:
        # gunicorn's workers are forks of this process and leave through here
        # too (SystemExit): only the master stops the companions and removes
        # the directory every process's metrics are still written to.
        if os.getpid() == master:
            supervisor.stop()
            if ours:
                shutil.rmtree(directory, ignore_errors=True)
    return 0


# A serve restarted at once after a SIGKILL finds its predecessor's processes
# still closing the port for a moment; a port taken this long is taken.
_PORT_WAIT = 2.0


def ensure_free(bind: str, what: str) -> None:
    """Refuse to start when something keeps listening on HOST:PORT."""
    if bind.startswith("unix:"):
        return
    host, port = split_address(bind)  # checked at load
    if port == 0:
        return
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    deadline = time.monotonic() + _PORT_WAIT
    while True:
        with socket.socket(family, socket.SOCK_STREAM) as sock:
            # Without SO_REUSEPORT: a listener that has it refuses us all the same.
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                sock.bind((host or "0.0.0.0", port))
                return
            except OSError as exc:
                if time.monotonic() < deadline:
                    time.sleep(0.1)
                    continue
                raise ConfigError(
                    f"cannot listen on {bind} for {what}: {exc.strerror}; is "
                    "another soapsms (or something else) running there?"
                ) from exc


NO_CARRIER = (
    "NO CARRIER CONFIGURED: no [routes] in the INI file and carrier is not "
    "'simulator'; every recipient is rejected NO_ROUTE and nothing is sent "
    "(docs/dispatcher.md)"
)


def warn_no_carrier() -> None:
    """Say loudly, in the log, that nothing will be sent."""
    logger.error(NO_CARRIER)


def _companion_env(argv: Sequence[str], directory: str) -> dict[str, str]:
    env = dict(os.environ)
    env[MULTIPROC_ENV] = directory
    return env
