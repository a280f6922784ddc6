"""gunicorn settings for running soapsms's WSGI app with gunicorn directly.

    soapsms db upgrade       # gunicorn does not migrate; `soapsms serve` does
    gunicorn -c deploy/gunicorn.conf.py 'soapsms.wsgi:create_app()'

The app reads its settings (SOAPSMS_* variables, SOAPSMS_CONFIG) itself; this
file reads the few that are gunicorn's: SOAPSMS_BIND, SOAPSMS_WORKERS and
SOAPSMS_LOG_LEVEL. `soapsms serve` needs no file: it applies the same
defaults (soapsms/serve.py, gunicorn_options) with SOAPSMS_WORKERS workers.

Direct TLS, without a reverse proxy (deploy/README.md, "Connection options"):
set SOAPSMS_GUNICORN_CERTFILE and SOAPSMS_GUNICORN_KEYFILE to PEM files (the
certificate chain and its key, readable by the service user), and
SOAPSMS_BIND=0.0.0.0:443 (with CAP_NET_BIND_SERVICE) or :8443. Python's
server context then accepts TLS 1.2 and 1.3 only. Prefer nginx in front
(deploy/nginx/) when you can: it also buffers slow clients and limits bodies.
"""

import os
import tempfile

from soapsms import logs
from soapsms.serve import (  # noqa: F401 - child_exit, post_fork: gunicorn hooks
    MULTIPROC_ENV,
    THREADS,
    child_exit,
    post_fork,
)

bind = os.environ.get("SOAPSMS_BIND", "127.0.0.1:8000")

# gthread workers with soapsms serve's thread count: while one thread waits
# on the database the others run, and on SQLite the sends of a worker's
# threads share a commit (soapsms.serve has the figures). One worker per
# core, plus one, keeps every core busy (argon2 password checks and XML
# parsing are CPU work); at most 8 by default, each with its own database
# connections (PostgreSQL allows 100 unless
# max_connections says otherwise). SOAPSMS_WORKERS overrides it.
_cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else 1
workers = int(os.environ.get("SOAPSMS_WORKERS") or min(_cores + 1, 8))
# gthread whose event loop reads each request before a thread gets it, so
# silent or trickling clients hold no thread (soapsms/serve_worker.py).
worker_class = "soapsms.serve_worker.GuardedThreadWorker"
threads = THREADS
# Each worker listens on its own SO_REUSEPORT socket and the kernel spreads
# new connections over them; on one shared socket whichever worker woke first
# took them all, and keep-alive clients (nginx's upstream pool) then stayed
# with it. Needs a TCP bind (not a unix socket).
reuse_port = True

# A request that takes longer than this is stuck: its worker is restarted.
# nginx's proxy_read_timeout (deploy/nginx/soapsms-proxy.conf) is a little
# longer, so the client sees gunicorn's answer.
timeout = 60
graceful_timeout = 20
keepalive = 5
# Recycle workers now and then, jittered so they do not restart together.
max_requests = 20000
max_requests_jitter = 2000

# The access log has the path without its query string (%(U)s), never a body
# or a header: no passwords (Basic auth, ?wsdl&... parameters) reach it.
accesslog = "-"
access_log_format = '%(h)s "%(m)s %(U)s" %(s)s %(B)s %(M)sms'
errorlog = "-"
loglevel = os.environ.get("SOAPSMS_LOG_LEVEL", "info").lower()
# soapsms's line format (SOAPSMS_LOG_FORMAT: text or json) for gunicorn's
# lines too, access lines included, with their timestamps.
logconfig_dict = logs.config(loglevel, os.environ.get("SOAPSMS_LOG_FORMAT", "text"))

# Engines are created in each worker after the fork, never shared.
preload_app = False

# /metrics sums every worker's prometheus-client files (docs/operations.md):
# they go to PROMETHEUS_MULTIPROC_DIR, which must start empty (soapsms-web's
# systemd RuntimeDirectory is), else to a fresh temporary directory. Set once:
# gunicorn reads this file again on SIGHUP, while the workers keep writing.
# child_exit (imported above) drops a dead worker's live gauges; post_fork has
# a worker quit at once when its master dies.
if not os.environ.get(MULTIPROC_ENV):
    os.environ[MULTIPROC_ENV] = tempfile.mkdtemp(prefix="soapsms-metrics-")
# gunicorn's own X-Forwarded-* handling stays at its loopback default; soapsms
# decides whom to believe with SOAPSMS_TRUSTED_PROXIES.
# One control socket per user would be fought over by every gunicorn on the
# machine (ignored by gunicorns that do not have it).
control_socket_disable = True

_certfile = os.environ.get("SOAPSMS_GUNICORN_CERTFILE", "")
if _certfile:
    certfile = _certfile
    keyfile = os.environ["SOAPSMS_GUNICORN_KEYFILE"]
