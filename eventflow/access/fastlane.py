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
document; both lanes answer with the same functions (poll.py), count against the same
flask-limiter counters (limits.admit), and leave the same headers, request ids and metrics.
"""

import logging
import re
import time
import uuid

from werkzeug.http import parse_etags

from eventflow import http, jsonlog, limits, metrics, tenancy
from eventflow.access import poll
from eventflow.auth import PARTICIPANT, InvalidToken, bearer_token

log = logging.getLogger(__name__)

ENDPOINT = "access.StatsAccess"
_UUID = "[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"  # as str(UUID) writes it
# The route's uuid converter takes either case; the rest of the path is case-sensitive, as routing is.
_PATH = re.compile(rf"/api/webinars/((?i:{_UUID}))/stats/access")
# The query the client sends: none, or its own session id.
_QUERY = re.compile(rf"(?:session_id=({_UUID}))?")
_STATUS_LINES = {200: "200 OK", 304: "304 NOT MODIFIED"}


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
        self.answered = metrics.FAST_LANE
        self.webinar_hits = metrics.CACHE_HITS.labels(tenancy.CACHE_NAME)

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
        snapshot = self.snapshots.confirmed_copy(str(webinar.id))
        if snapshot is None:
            return None
        if not limits.admit(limits.STATS_ACCESS, ENDPOINT, principal.user_id, webinar.id):
            return None
        self.webinar_hits.inc()
        known = parse_etags(environ.get("HTTP_IF_NONE_MATCH"))
        viewer_limit = self.settings.participant_viewer_limit
        return poll.for_participant(snapshot, principal.user_id, query.group(1), viewer_limit, known)

    def _send(self, answer, environ, start_response, started):
        status, headers, payload = answer
        headers |= http.SECURITY_HEADERS
        headers[jsonlog.REQUEST_ID_HEADER] = jsonlog.request_id_for(environ.get("HTTP_X_REQUEST_ID", ""))
        if payload:
            headers["Content-Length"] = str(len(payload))
        start_response(_STATUS_LINES[status], list(headers.items()))
        self.answered.inc()
        metrics.count_request_of(self.rule, "GET", status, started)
        return [payload] if payload else []
