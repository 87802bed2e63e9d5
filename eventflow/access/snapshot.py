"""The per-webinar snapshot of who is live, behind GET /stats/access.

Every viewer polls every 5 s, so 10,000 viewers ask about 2,000 times a second for the same
list. The list is built from PostgreSQL at most once per `snapshot_max_age_seconds` per webinar,
by whichever request first finds it stale and wins a Redis lock; everyone else keeps serving the
previous snapshot meanwhile. PostgreSQL writes it as one JSON document of parallel lists and its
md5 (the version), so a rebuild of 25,000 viewers costs Python one string, not 25,000 objects. It
is stored in Redis as it came, with a small `meta` key beside it so that a process asks Redis for
a few bytes, not the whole list, to learn whether its own copy is still current
(eventflow/shared_documents.py keeps and refreshes it). A request answered from a snapshot takes
no database connection.

If Redis is unreachable, each process keeps its own copy and rebuilds it at most once per max
age, one thread at a time: PostgreSQL then sees one query per process per second per webinar.

Metrics: eventflow_snapshot_rebuilds_total{snapshot="stats_access"} counts the rebuilds;
eventflow_cache_hits_total / _misses_total{cache="stats_access"} the requests answered from an
existing snapshot and those that had to build one.
"""

import uuid
from dataclasses import dataclass, field

import orjson
from flask import current_app

from eventflow import shared_documents

KEY_PREFIX = "ef:snap"
# A session opened this long before a snapshot was built may still be missing from it: its
# transaction may have committed after the live list was read (a request's call and commit take
# milliseconds; this also absorbs a small clock skew between PostgreSQL and the app). Another
# device's session is therefore told within this plus the snapshot's max age: inside one poll.
SESSION_VISIBLE_SECONDS = 1.0
METRIC_NAME = "stats_access"  # the label of this cache in the metrics


@dataclass
class Snapshot:
    """The live list as PostgreSQL wrote it (access/queries.py LIVE_LIST): parallel lists, earliest
    arrival first, so that neither building nor reading it costs a Python object per viewer."""

    version: str  # changes exactly when the list does: the ETag
    built_at: float  # epoch seconds
    document: str | bytes  # the JSON PostgreSQL built (bytes once read back from Redis)
    user_ids: list = field(repr=False)
    names: list = field(repr=False)
    since: list = field(repr=False)
    sessions: list = field(repr=False)  # each viewer's newest session_id: never shown, only compared
    checked_at: float = 0.0  # monotonic: when this process last confirmed it current
    _positions: dict | None = field(default=None, repr=False)
    _anonymous: dict = field(default_factory=dict, repr=False)

    @classmethod
    def from_document(cls, document, version, built_at):
        lists = orjson.loads(document)
        return cls(version, built_at, document, lists["user_ids"], lists["names"], lists["since"], lists["sessions"])

    @property
    def live_count(self):
        return len(self.user_ids)

    def viewer(self, position):
        return {"user_id": self.user_ids[position], "display_name": self.names[position], "since": self.since[position]}

    def viewers(self, offset, limit):
        return [self.viewer(position) for position in range(offset, min(offset + limit, self.live_count))]

    def position_of(self, user_id):
        if self._positions is None:
            self._positions = dict(zip(self.user_ids, range(self.live_count), strict=True))
        return self._positions.get(str(user_id))

    def anonymous_viewers(self, limit):
        """The first `limit` viewers without their user_id (what participants see of others)."""
        if limit not in self._anonymous:
            self._anonymous[limit] = [
                {"display_name": name, "since": since}
                for name, since in zip(self.names[:limit], self.since[:limit], strict=True)
            ]
        return self._anonymous[limit]

    def superseded(self, user_id, session_id):
        """Whether a newer session of this viewer exists; None when the snapshot cannot tell: the
        viewer is not live, has no session, or the given session may be younger than the
        snapshot (a device that just tracked must not be told that its predecessor, which the
        snapshot still names, superseded it)."""
        position = self.position_of(user_id)
        newest = None if position is None else self.sessions[position]
        if newest is None:
            return None
        if newest == str(session_id):
            return False
        return None if _opened_after(session_id, self.built_at - SESSION_VISIBLE_SECONDS) else True


def _opened_after(session_id, epoch_seconds):
    """Whether the session was opened after `epoch_seconds`, read from its id: sessions get
    time-ordered ids (UUID version 7, app.time_ordered_uuid() in sql/functions/10_hot_path.sql),
    whose first 48 bits are the opening's Unix time in milliseconds. An id of another version
    (sessions opened before those ids) carries no time: never judged younger."""
    session = uuid.UUID(str(session_id))
    return session.version == 7 and (session.int >> 80) / 1000 > epoch_seconds


def init_app(app, settings):
    app.extensions["eventflow.snapshots"] = shared_documents.SharedDocuments(
        METRIC_NAME, KEY_PREFIX, settings.snapshot_max_age_seconds, Snapshot.from_document
    )


def snapshots():
    return current_app.extensions["eventflow.snapshots"]
