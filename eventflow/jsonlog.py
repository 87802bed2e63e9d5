"""Logs as one JSON object per line, each with the request id of the request that wrote it.

The request id is the caller's X-Request-Id when it is a sane token (a load balancer's or a
client's, up to 128 of [A-Za-z0-9._-]), else a fresh one; it is returned in X-Request-Id so a
user's report can be matched to the log lines.
"""

import json
import logging
import os
import re
import sys
from datetime import UTC, datetime

from flask import g, has_request_context, request

REQUEST_ID_HEADER = "X-Request-Id"
_SANE_REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{1,128}$")
# LogRecord attributes that are not extra fields of the call.
_STANDARD = set(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {"message", "asctime", "request_id"}


def current_request_id():
    if not has_request_context():
        return None
    if "request_id" not in g:
        g.request_id = request_id_for(request.headers.get(REQUEST_ID_HEADER, ""))
    return g.request_id


def request_id_for(given):
    """The caller's request id if it is a sane one, else a fresh one."""
    return given if _SANE_REQUEST_ID.match(given) else os.urandom(16).hex()


class JsonFormatter(logging.Formatter):
    def format(self, record):
        entry = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        request_id = getattr(record, "request_id", None) or current_request_id()
        if request_id:
            entry["request_id"] = request_id
        for key, value in vars(record).items():
            if key not in _STANDARD and not key.startswith("_"):
                entry[key] = value
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str, ensure_ascii=False)


def configure(level=logging.INFO, stream=None):
    """Send the root logger's records to `stream` (stderr) as JSON lines; idempotent."""
    root = logging.getLogger()
    root.setLevel(level)
    if not any(isinstance(h.formatter, JsonFormatter) for h in root.handlers):
        handler = logging.StreamHandler(stream or sys.stderr)
        handler.setFormatter(JsonFormatter())
        root.addHandler(handler)


def init_app(app):
    configure()

    @app.before_request
    def assign_request_id():
        current_request_id()

    @app.after_request
    def return_request_id(response):
        stamp(response.headers, current_request_id())
        return response


def stamp(headers, request_id):
    """Return the request id to the caller (in a response's Headers or a plain dict)."""
    headers[REQUEST_ID_HEADER] = request_id
