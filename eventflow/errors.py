"""Every failure answers JSON: {"code", "status", "message"}, never HTML or a stack trace."""

import flask_smorest
import psycopg
from flask import jsonify
from psycopg_pool import PoolTimeout
from werkzeug.http import HTTP_STATUS_CODES

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
        return payload, code, headers


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

    # HTTPExceptions have flask-smorest's JSON handler, which Flask prefers as more specific.
    @app.errorhandler(Exception)
    def unexpected(exc):
        app.logger.exception("unhandled error")
        return json_error(500, "internal error")
