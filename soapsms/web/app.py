"""The web app factory: one Flask app holding the portal and the console blueprints.

Nothing happens at import: `create_app` is called by wsgi.py with the
process's Runtime. wsgi.py hands it every path under PREFIXES.
"""

from __future__ import annotations

import logging

from flask import Flask, render_template
from werkzeug.exceptions import BadRequest, HTTPException, ServiceUnavailable

from soapsms import errors
from soapsms.usecases.runtime import Runtime
from soapsms.web import context, filters, security
from soapsms.web.admin import blueprint as admin_blueprint
from soapsms.web.portal import blueprint as portal_blueprint

logger = logging.getLogger(__name__)

# The paths wsgi.py routes here; the rest stay SOAP's, /health's and /metrics'.
PREFIXES = ("/portal", "/admin", "/static")


def create_app(runtime: Runtime) -> Flask:
    app = Flask(__name__, static_url_path="/static")
    context.install(app, runtime)
    security.install(app, runtime)
    filters.install(app)
    app.register_blueprint(portal_blueprint(), url_prefix="/portal")
    app.register_blueprint(admin_blueprint(), url_prefix="/admin")
    app.register_error_handler(HTTPException, _http_error)
    app.register_error_handler(errors.ClientError, _client_error)
    app.register_error_handler(errors.ServerError, _unavailable)
    app.register_error_handler(Exception, _internal_error)
    return app


def _http_error(error: HTTPException) -> tuple[str, int]:
    code = error.code or 500
    return render_template("error.html", code=code, error=error), code


def _client_error(error: errors.ClientError) -> tuple[str, int]:
    # A page without its own form to redisplay: the use case's sentence.
    return _http_error(BadRequest(description=f"{error.message}."))


def _unavailable(error: errors.ServerError) -> tuple[str, int]:
    logger.warning("web request failed: %s", error.message)
    said = "The gateway cannot reach its store just now; try again in a minute."
    return _http_error(ServiceUnavailable(description=said))


def _internal_error(error: Exception) -> tuple[str, int]:
    # Logged with its traceback for the operator; the page says only that.
    logger.exception("web request failed: %r", error)
    return render_template("error.html", code=500, error=None), 500
