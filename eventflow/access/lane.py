"""The fast lane's route for a participant's stats/access poll (eventflow/fastlane.py).

Answered from memory when this process has confirmed the webinar's snapshot current moments ago
and the query is none or a canonical `session_id`; admins and anything else go to the Flask
view. Both lanes answer with poll.py's functions.
"""

import re

from werkzeug.http import parse_etags

from eventflow import fastlane, metrics
from eventflow.access import poll, snapshot
from eventflow.auth import PARTICIPANTS

# The query the client sends: none, or its own session id.
_QUERY = re.compile(rf"(?:session_id=({fastlane.UUID}))?")


class StatsAccess:
    endpoint = "access.StatsAccess"
    path = fastlane.webinar_path("stats/access")
    roles = PARTICIPANTS

    def __init__(self, app):
        self.settings = app.extensions["eventflow.settings"]
        self.snapshots = app.extensions["eventflow.snapshots"]
        self.snapshot_hits = metrics.CACHE_HITS.labels(snapshot.METRIC_NAME)

    @staticmethod
    def args(environ):
        query = _QUERY.fullmatch(environ.get("QUERY_STRING", ""))
        return None if query is None else {"session_id": query.group(1)}

    def prepare(self, principal, webinar, args, environ):
        copy = self.snapshots.confirmed_copy(str(webinar.id))
        if copy is None:
            return None

        def answer():
            self.snapshot_hits.inc()
            known = parse_etags(environ.get("HTTP_IF_NONE_MATCH"))
            viewer_limit = self.settings.participant_viewer_limit
            return poll.for_participant(copy, principal.user_id, args["session_id"], viewer_limit, known)

        return answer
