"""The fast lane: the crowd's polls answered before Flask, from what this process holds.

Every viewer polls stats/access every 5 s and, while the realtime channel is down, chat every
2 s and Q&A every 5 s: a 5,000-viewer webinar sends thousands of polls a second that nearly all
get one of a few answers. Once this process has verified the caller's token, looked up the
webinar and holds the answer current (a stats/access snapshot confirmed moments ago; a feed's
change window as far as the feed's marker), the answer needs nothing but memory (and, for a
feed, at most a Redis read of that marker), and Flask's machinery around it (request context,
routing, the limiter extension, argument parsing, hooks) would cost several times what the
answer does. So such a poll is answered here, by a WSGI middleware in front of the app, one
route per endpoint (access/lane.py, chat/lane.py).

Anything else goes through to Flask untouched: other requests, a query the route does not take
as it is, a missing or invalid token (the 401 is Flask's), a role the route leaves to Flask, a
webinar this process does not hold or the caller may not see (tenancy.sees, the views' own rule:
the 404 is Flask's), an answer the route cannot give from memory, and a caller over the limit
(so that the 429 comes from flask-limiter itself). A valid token seen for the first time is
verified here, once per process, as Flask would. The Flask views stay the definition of the
endpoints and of their OpenAPI document; both lanes answer with the same functions, count in
the counters flask-limiter keeps for the view (limits.admit), and finish the answer with the
functions the app's after_request hooks call (AFTER_REQUEST). tests/access/test_lane_equivalence.py
and tests/chat/test_lane_equivalence.py send the same requests through both lanes and compare
everything.
"""

import logging
import re
import time
import uuid
from dataclasses import dataclass

from eventflow import http, jsonlog, limits, metrics, tenancy
from eventflow.auth import InvalidToken, bearer_token

log = logging.getLogger(__name__)

UUID = "[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"  # as str(UUID) writes it
_STATUS_LINES = {200: "200 OK", 304: "304 NOT MODIFIED"}


def webinar_path(rest):
    """The path of a webinar's endpoint, the webinar id its group 1. The route's uuid converter
    takes either case; the rest of the path is case-sensitive, as routing is."""
    return re.compile(rf"/api/webinars/((?i:{UUID}))/{rest}")


def _count(answer):
    metrics.count_request_of(answer.rule, "GET", answer.status, answer.started)


# Every after_request hook the app runs for a route's endpoint, by name, and what the lane does
# in its stead on its own answer (None: nothing, and why). The lane refuses to start beside a hook
# it does not list: an effect it would silently leave out.
AFTER_REQUEST = {
    "add_security_headers": lambda answer: http.secure(answer.headers),
    "return_request_id": lambda answer: jsonlog.stamp(
        answer.headers, jsonlog.request_id_for(answer.environ.get("HTTP_X_REQUEST_ID", ""))
    ),
    "count_request": _count,
    "commit_before_responding": None,  # the lane never opens a transaction
    "__inject_headers": None,  # rate-limit headers are off (limits.limiter, headers_enabled)
}


@dataclass
class _Answer:
    status: int
    headers: dict
    environ: dict
    rule: str
    started: float


def after_request_hooks(app, endpoint):
    """The names of the after_request hooks Flask runs for `endpoint`: the app's and its blueprint's."""
    blueprint = endpoint.rpartition(".")[0]
    hooks = app.after_request_funcs.get(None, []) + app.after_request_funcs.get(blueprint, [])
    return [getattr(hook, "func", hook).__name__ for hook in hooks]  # flask-limiter's is a partial


@dataclass
class _Bound:
    """A route as this app serves it: its rule, the view flask-limiter decorated, its counter."""

    route: object
    rule: str
    view: object
    answered: object


class FastLane:
    """The middleware in front of `wsgi_app`. Each route has `endpoint`, `path` (webinar_path),
    `roles`, `args(environ)` (its parsed query, or None to leave the request to Flask) and
    `prepare(principal, webinar, args, environ)`: None to leave it to Flask, else a function that
    counts the route's cache hits and gives (status, headers, payload), called once the caller is
    within the limits."""

    def __init__(self, app, wsgi_app, routes):
        self.next = wsgi_app
        self.tokens = app.extensions["eventflow.verified_tokens"]
        self.webinars = app.extensions["eventflow.webinar_cache"]
        self.routes = [self._bind(app, route) for route in routes]
        self.finishers = [finish for finish in AFTER_REQUEST.values() if finish is not None]
        self.webinar_hits = metrics.CACHE_HITS.labels(tenancy.CACHE_NAME)

    @staticmethod
    def _bind(app, route):
        rules = [rule.rule for rule in app.url_map.iter_rules() if rule.endpoint == route.endpoint]
        if len(rules) != 1:
            raise RuntimeError(f"the fast lane stands in front of {route.endpoint}, which has {len(rules)} routes")
        unknown = set(after_request_hooks(app, route.endpoint)) - AFTER_REQUEST.keys()
        if unknown:
            raise RuntimeError(f"the fast lane does not know what the after_request hooks {sorted(unknown)} do")
        view = app.view_functions[route.endpoint].view_class.get
        return _Bound(route, rules[0], view, metrics.FAST_LANE.labels(rules[0]))

    def __call__(self, environ, start_response):
        started = time.perf_counter()
        if environ["REQUEST_METHOD"] == "GET":
            path = environ.get("PATH_INFO", "")
            for bound in self.routes:
                match = bound.route.path.fullmatch(path)
                if match is None:
                    continue
                try:
                    answer = self._answer(bound, match.group(1), environ)
                except Exception:  # noqa: BLE001 - an optimisation must not turn a poll into a 500
                    log.exception("the fast lane failed on %s; the Flask view answers", bound.rule)
                    answer = None
                if answer is not None:
                    return self._send(bound, answer, environ, start_response, started)
                break
        return self.next(environ, start_response)

    def _answer(self, bound, webinar_id, environ):
        route = bound.route
        args = route.args(environ)
        if args is None:
            return None
        token = bearer_token(environ.get("HTTP_AUTHORIZATION", ""))
        if token is None:
            return None
        try:
            principal = self.tokens.principal_of(token)
        except InvalidToken:
            return None
        if principal.role not in route.roles:
            return None
        webinar = self.webinars.get(uuid.UUID(webinar_id))
        if webinar is None or not tenancy.sees(principal, webinar):
            return None
        answer = route.prepare(principal, webinar, args, environ)
        if answer is None:
            return None
        if not limits.admit(bound.view, route.endpoint, "GET", principal.user_id, webinar.id):
            return None
        self.webinar_hits.inc()
        return answer()

    def _send(self, bound, answer, environ, start_response, started):
        status, headers, payload = answer
        answer = _Answer(status, headers, environ, bound.rule, started)
        if payload:
            headers["Content-Length"] = str(len(payload))
        for finish in self.finishers:
            finish(answer)
        start_response(_STATUS_LINES[status], list(headers.items()))
        bound.answered.inc()
        return [payload] if payload else []
