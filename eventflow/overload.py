"""Overload degrades, it does not collapse: a request that has waited longer than the request
start bound for a thread of this process is refused at once (503 + Retry-After) instead of being
served late.

Past capacity, gunicorn's threads fall behind and requests wait in its queue for one; answered in
arrival order, every request would come later and later, cheap ones included, until clients
time out. The front (deploy/nginx/eventflow.conf) stamps each request with the time it arrived
(`X-Request-Start: t=<epoch seconds>`); a request that reaches the app more than
`request_start_bound_ms` after that is answered here, before Flask, in microseconds, so the
queue drains and the requests behind it start in time. The header is read only behind a trusted
front (EVENTFLOW_TRUSTED_PROXIES), which overwrites whatever a client sent; the probes are never
refused. The other half of the bound, the wait for a database connection, is db.checkout's.
"""

import time

import orjson

from eventflow import errors, http, jsonlog, metrics

REQUEST_START_HEADER = "HTTP_X_REQUEST_START"
PROBES = frozenset({"/healthz", "/readyz"})
_BODY = orjson.dumps({"code": 503, "status": "Service Unavailable", "message": "the service is busy; retry shortly"})


def waited_seconds(environ, now):
    """Seconds since the front received the request, or None without a readable stamp."""
    stamp = environ.get(REQUEST_START_HEADER, "")
    try:
        return now - float(stamp.removeprefix("t="))
    except ValueError:
        return None


class ShedLate:
    def __init__(self, wsgi_app, settings):
        self.next = wsgi_app
        self.bound = settings.request_start_bound_ms / 1000
        self.shed = metrics.SHED.labels(metrics.SHED_LATE)

    def __call__(self, environ, start_response):
        waited = waited_seconds(environ, time.time())
        if waited is None or waited <= self.bound or environ.get("PATH_INFO") in PROBES:
            return self.next(environ, start_response)
        headers = {
            "Content-Type": "application/json",
            "Content-Length": str(len(_BODY)),
            "Retry-After": str(errors.RETRY_AFTER_SECONDS),
        }
        http.secure(headers)
        jsonlog.stamp(headers, jsonlog.request_id_for(environ.get("HTTP_X_REQUEST_ID", "")))
        start_response("503 SERVICE UNAVAILABLE", list(headers.items()))
        self.shed.inc()
        return [_BODY]


def init_app(app, settings):
    """Outermost, in front of the fast lane: a late poll is refused before anything else runs."""
    if settings.trusted_proxies:
        app.wsgi_app = ShedLate(app.wsgi_app, settings)
