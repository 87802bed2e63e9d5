"""Every failure answers JSON: {"code", "status", "message"}, never HTML or a stack trace."""

import flask_smorest
import psycopg
from flask import jsonify, request
from gunicorn.http import errors as gunicorn_errors
from psycopg_pool import PoolTimeout
from werkzeug.exceptions import MethodNotAllowed
from werkzeug.http import HTTP_STATUS_CODES

from eventflow import db, metrics

RETRY_AFTER_SECONDS = 2


def json_error(code, message, headers=None):
    response = jsonify(code=code, status=HTTP_STATUS_CODES.get(code, "Error"), message=message)
    response.status_code = code
    response.headers.update(headers or {})
    return response


def service_unavailable(message):
    return json_error(503, message, {"Retry-After": str(RETRY_AFTER_SECONDS)})


class Api(flask_smorest.Api):
    def handle_http_exception(self, error):
        """flask-smorest's JSON error, with a message even where nobody passed one (an unknown
        route, a body that is not JSON, a validation error): the contract promises one."""
        payload, code, headers = super().handle_http_exception(error)
        payload.setdefault("message", error.description or error.name)
        if isinstance(error, MethodNotAllowed) and error.valid_methods:
            headers = {**headers, "Allow": ", ".join(sorted(error.valid_methods))}
        return payload, code, headers


def _broken_body(exc):
    """gunicorn's reader of a request body failing while the app reads it: a malformed chunk,
    a forbidden trailer, a body that ends early. The request's own fault, not the service's
    (the application's own invalid response headers are not this)."""
    if isinstance(exc, (gunicorn_errors.InvalidResponseHeader, gunicorn_errors.InvalidResponseHeaderName)):
        return False
    return isinstance(exc, (gunicorn_errors.ParseException, gunicorn_errors.NoMoreData))


def init_app(app):
    @app.errorhandler(PoolTimeout)
    @app.errorhandler(psycopg.OperationalError)
    def database_unavailable(exc):
        app.logger.warning("database unavailable: %s", exc.__class__.__name__)
        return service_unavailable("the database is unavailable; retry shortly")

    @app.errorhandler(psycopg.errors.InsufficientPrivilege)
    def refused_by_policy(exc):
        # A write the row-level policies refuse concerns rows the caller cannot see: to the
        # caller they do not exist. Any other privilege error (a missing grant) is our bug.
        if "row-level security" not in (exc.diag.message_primary or ""):
            app.logger.error("privilege error: %s", exc.diag.message_primary)
            return json_error(500, "internal error")
        app.logger.warning("write refused by row-level security: %s", exc.diag.message_primary)
        return json_error(404, "not found")

    @app.errorhandler(db.Overloaded)
    def overloaded(exc):
        metrics.SHED.labels(metrics.SHED_BUSY_POOL).inc()
        return service_unavailable("the service is busy; retry shortly")

    @app.errorhandler(RecursionError)
    def nested_too_deeply(exc):
        # JSON bodies are the only input of unbounded depth: json.loads recursing through
        # thousands of nested arrays or objects (64 KiB holds 30,000) runs out of stack.
        if not request.is_json:
            return unexpected(exc)
        app.logger.warning("request body nested too deeply")
        return json_error(400, "the body is nested too deeply")

    # HTTPExceptions have flask-smorest's JSON handler, which Flask prefers as more specific.
    @app.errorhandler(Exception)
    def unexpected(exc):
        if _broken_body(exc):
            app.logger.warning("malformed request body: %s", exc.__class__.__name__)
            return json_error(400, "malformed HTTP request body")
        app.logger.exception("unhandled error")
        return json_error(500, "internal error")
