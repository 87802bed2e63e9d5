"""Overload degrades, it does not collapse: a request that has waited too long for a thread of
this process is refused at once (503 + Retry-After) instead of being served late.

Past capacity, gunicorn's threads fall behind and requests wait in its queue for one; answered in
arrival order, every request would come later and later, cheap ones included, until clients
time out. The front (deploy/nginx/eventflow.conf) stamps each request with the time it arrived
(`X-Request-Start: t=<epoch seconds>`); a request that reaches the app later than `StartBound`
allows is answered here, before Flask, in microseconds, so the queue drains and the requests
behind it start in time. The header is read only behind a trusted front
(EVENTFLOW_TRUSTED_PROXIES), which overwrites whatever a client sent; the probes are never
refused. The other queue, the wait for a database connection, has its own StartBound
(db.ConnectionSlots).
"""

import time

import orjson

from eventflow import errors, http, jsonlog, metrics

REQUEST_START_HEADER = "HTTP_X_REQUEST_START"
PROBES = frozenset({"/healthz", "/readyz"})
_BODY = orjson.dumps({"code": 503, "status": "Service Unavailable", "message": "the service is busy; retry shortly"})


class StartBound:
    """How long a request may wait in one queue before it is refused: CoDel's rule (Nichols and
    Jacobson, 2012), as servers apply it to their request queues (Facebook, "Fail at Scale").

    Each request reports how long it waited. One that waited within `target` shows the queue
    drains. One that waited longer starts the clock; if every request keeps waiting longer than
    `target` for a whole INTERVAL of serving, the queue is standing (more arrives than is served)
    and from then on a request that waited more than `target` is refused, until one starts within
    it again. A moment in which the process stalls (the machine's scheduler, a disk flush under a
    commit) only delays the requests queued behind it: they drain within the interval, and none
    is refused. No request ever waits more than `bound`. Times are monotonic seconds; races between
    threads only blur the moment the clock started, which is all this keeps."""

    INTERVAL = 0.1

    def __init__(self, target_seconds, bound_seconds):
        self.target = target_seconds
        self.bound = bound_seconds
        self.above_since = None

    def standing(self, now):
        return self.above_since is not None and now - self.above_since >= self.INTERVAL

    def allowed_wait(self, now):
        """The longest a request reaching the head of the queue at `now` may have waited."""
        return self.target if self.standing(now) else self.bound

    def record(self, waited, now):
        """A request left the queue at `now`, started or refused, after waiting `waited`."""
        if waited <= self.target:
            self.above_since = None
        elif self.above_since is None:
            self.above_since = now

    def admits(self, waited, now):
        """Whether a request that waited `waited` may start at `now`; either way it is recorded."""
        allowed = self.allowed_wait(now)
        self.record(waited, now)
        return waited <= allowed

    @classmethod
    def of(cls, settings):
        return cls(settings.request_start_target_ms / 1000, settings.request_start_bound_ms / 1000)


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
        self.bound = StartBound.of(settings)
        self.shed = metrics.SHED.labels(metrics.SHED_LATE)

    def __call__(self, environ, start_response):
        waited = waited_seconds(environ, time.time())
        if waited is None or self.bound.admits(waited, time.monotonic()) or environ.get("PATH_INFO") in PROBES:
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
