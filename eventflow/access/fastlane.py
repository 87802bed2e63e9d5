"""The 5-second stats/access poll of a participant, answered from process memory before Flask.

Every viewer polls every 5 s: 25,000 viewers send 5,000 polls a second that all get one of a few
answers. Once this process has verified the caller's token, looked up the webinar and confirmed
its snapshot current moments ago, the answer needs nothing but memory, and Flask's machinery
around it (request context, routing, the limiter extension, argument parsing, hooks) would cost
several times what the answer does. So such a poll is answered here, by a WSGI middleware in
front of the app.

Anything else goes through to Flask untouched: other requests, admins, a query other than none
or a canonical `session_id`, a missing or invalid token (the 401 is Flask's), a webinar or
snapshot this process does not hold fresh, a webinar the caller may not see (tenancy.sees, the
view's own rule: the 404 is Flask's), and a caller over the limit (so that the 429 comes
from flask-limiter itself). A valid token seen for the first time is verified here, once per
process, as Flask would. The Flask view stays the definition of the endpoint and of its OpenAPI
document; both lanes answer with the same functions (poll.py), count in the counters flask-limiter
keeps for the view (limits.admit), and finish the answer with the functions the app's
after_request hooks call (AFTER_REQUEST). tests/access/test_lane_equivalence.py sends the same
requests through both lanes and compares everything.
"""

import logging
import re
import time
import uuid
from dataclasses import dataclass

from werkzeug.http import parse_etags

from eventflow import http, jsonlog, limits, metrics, tenancy
from eventflow.access import poll, snapshot
from eventflow.auth import PARTICIPANT, InvalidToken, bearer_token

log = logging.getLogger(__name__)

ENDPOINT = "access.StatsAccess"
_UUID = "[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"  # as str(UUID) writes it
# The route's uuid converter takes either case; the rest of the path is case-sensitive, as routing is.
_PATH = re.compile(rf"/api/webinars/((?i:{_UUID}))/stats/access")
# The query the client sends: none, or its own session id.
_QUERY = re.compile(rf"(?:session_id=({_UUID}))?")
_STATUS_LINES = {200: "200 OK", 304: "304 NOT MODIFIED"}


def _count(answer):
    metrics.count_request_of(answer.rule, "GET", answer.status, answer.started)


# Every after_request hook the app runs for the stats/access view, by name, and what the lane does
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


def after_request_hooks(app, endpoint=ENDPOINT):
    """The names of the after_request hooks Flask runs for `endpoint`: the app's and its blueprint's."""
    blueprint = endpoint.rpartition(".")[0]
    hooks = app.after_request_funcs.get(None, []) + app.after_request_funcs.get(blueprint, [])
    return [getattr(hook, "func", hook).__name__ for hook in hooks]  # flask-limiter's is a partial


class FastLane:
    def __init__(self, app, wsgi_app):
        self.next = wsgi_app
        self.settings = app.extensions["eventflow.settings"]
        self.tokens = app.extensions["eventflow.verified_tokens"]
        self.webinars = app.extensions["eventflow.webinar_cache"]
        self.snapshots = app.extensions["eventflow.snapshots"]
        rules = [rule.rule for rule in app.url_map.iter_rules() if rule.endpoint == ENDPOINT]
        if len(rules) != 1:
            raise RuntimeError(f"the fast lane stands in front of {ENDPOINT}, which has {len(rules)} routes")
        self.rule = rules[0]
        self.view = app.view_functions[ENDPOINT].view_class.get
        unknown = set(after_request_hooks(app)) - AFTER_REQUEST.keys()
        if unknown:
            raise RuntimeError(f"the fast lane does not know what the after_request hooks {sorted(unknown)} do")
        self.finishers = [finish for finish in AFTER_REQUEST.values() if finish is not None]
        self.answered = metrics.FAST_LANE
        self.webinar_hits = metrics.CACHE_HITS.labels(tenancy.CACHE_NAME)
        self.snapshot_hits = metrics.CACHE_HITS.labels(snapshot.METRIC_NAME)

    def __call__(self, environ, start_response):
        started = time.perf_counter()
        if environ["REQUEST_METHOD"] == "GET":
            path = _PATH.fullmatch(environ.get("PATH_INFO", ""))
            if path is not None:
                try:
                    answer = self._answer(path.group(1), environ)
                except Exception:  # noqa: BLE001 - an optimisation must not turn a poll into a 500
                    log.exception("the stats/access fast lane failed; the Flask view answers")
                    answer = None
                if answer is not None:
                    return self._send(answer, environ, start_response, started)
        return self.next(environ, start_response)

    def _answer(self, webinar_id, environ):
        query = _QUERY.fullmatch(environ.get("QUERY_STRING", ""))
        if query is None:
            return None
        token = bearer_token(environ.get("HTTP_AUTHORIZATION", ""))
        if token is None:
            return None
        try:
            principal = self.tokens.principal_of(token)
        except InvalidToken:
            return None
        if principal.role != PARTICIPANT:
            return None
        webinar = self.webinars.get(uuid.UUID(webinar_id))
        if webinar is None or not tenancy.sees(principal, webinar):
            return None
        copy = self.snapshots.confirmed_copy(str(webinar.id))
        if copy is None:
            return None
        if not limits.admit(self.view, ENDPOINT, "GET", principal.user_id, webinar.id):
            return None
        self.webinar_hits.inc()
        self.snapshot_hits.inc()
        known = parse_etags(environ.get("HTTP_IF_NONE_MATCH"))
        viewer_limit = self.settings.participant_viewer_limit
        return poll.for_participant(copy, principal.user_id, query.group(1), viewer_limit, known)

    def _send(self, answer, environ, start_response, started):
        status, headers, payload = answer
        answer = _Answer(status, headers, environ, self.rule, started)
        if payload:
            headers["Content-Length"] = str(len(payload))
        for finish in self.finishers:
            finish(answer)
        start_response(_STATUS_LINES[status], list(headers.items()))
        self.answered.inc()
        return [payload] if payload else []
