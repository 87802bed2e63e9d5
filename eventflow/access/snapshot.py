"""The per-webinar snapshot of who is live, behind GET /stats/access.

Every viewer polls every 5 s, so 10,000 viewers ask about 2,000 times a second for the same
list. The list is built from PostgreSQL at most once per `snapshot_max_age_seconds` per webinar,
by whichever request first finds it stale and wins a Redis lock; everyone else keeps serving the
previous snapshot meanwhile. PostgreSQL writes it as one JSON document of parallel lists and its
md5 (the version), so a rebuild of 25,000 viewers costs Python one string, not 25,000 objects. It
is stored in Redis as it came, with a small `meta` key beside it so that a process asks Redis for
a few bytes, not the whole list, to learn whether its own copy is still current. A request
answered from a snapshot takes no database connection.

If Redis is unreachable, each process keeps its own copy and rebuilds it at most once per max
age, one thread at a time: PostgreSQL then sees one query per process per second per webinar.

Metrics: eventflow_snapshot_rebuilds_total{snapshot="stats_access"} counts the rebuilds;
eventflow_cache_hits_total / _misses_total{cache="stats_access"} the requests answered from an
existing snapshot and those that had to build one.
"""

import logging
import threading
import time
import uuid
from dataclasses import dataclass, field

import orjson
import redis
from flask import current_app

from eventflow import metrics
from eventflow.redis_client import get_redis

log = logging.getLogger(__name__)

# How long a process trusts its copy before asking Redis whether a newer one exists.
LOCAL_CHECK_SECONDS = 0.2
# A snapshot nobody asks for disappears from Redis after this.
STORED_SECONDS = 300
# The rebuilder's lock outlives a slow rebuild but not a crashed one.
LOCK_MILLISECONDS = 5000
# A cold webinar (no snapshot anywhere) waits this long for the rebuilder before building too.
COLD_WAIT_SECONDS = 2.0
COLD_POLL_SECONDS = 0.02
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
        """Whether a newer session of this viewer exists; None when the snapshot cannot tell
        (the viewer is not live, or has no session)."""
        position = self.position_of(user_id)
        newest = None if position is None else self.sessions[position]
        return None if newest is None else newest != str(session_id)


def _parse_meta(meta):
    """(version, built_at) from the small key beside the document."""
    version, built_at = meta.decode().split(" ")
    return version, float(built_at)


def _keys(webinar_id):
    base = f"ef:snap:{webinar_id}"
    return f"{base}:meta", f"{base}:body", f"{base}:lock"


class SnapshotCache:
    """One per app: the process's copies, and the rules for refreshing them."""

    def __init__(self, max_age_seconds):
        self.max_age = max_age_seconds
        self._copies: dict[str, Snapshot] = {}
        self._local_locks: dict[str, threading.Lock] = {}

    def confirmed_copy(self, webinar_id):
        """This process's snapshot of a webinar if it was confirmed current moments ago, else None:
        all a poll needs from memory alone. The caller counts the hit once it answers from it."""
        copy = self._copies.get(webinar_id)
        if copy is not None and time.monotonic() - copy.checked_at < LOCAL_CHECK_SECONDS:
            return copy
        return None

    def get(self, webinar_id, load_document):
        """The current snapshot of a webinar; `load_document()` reads the live list from PostgreSQL:
        (its JSON document, its version)."""
        webinar_id = str(webinar_id)
        copy = self.confirmed_copy(webinar_id)
        if copy is not None:
            metrics.CACHE_HITS.labels(METRIC_NAME).inc()
            return copy
        copy = self._copies.get(webinar_id)
        built = []

        def load_document_counted():
            built.append(True)
            return load_document()

        snapshot = self._current(webinar_id, copy, load_document_counted)
        (metrics.CACHE_MISSES if built else metrics.CACHE_HITS).labels(METRIC_NAME).inc()
        return snapshot

    def _current(self, webinar_id, copy, load_document):
        try:
            snapshot = self._from_redis(webinar_id, copy)
            if snapshot is None or self._stale(snapshot):
                snapshot = self._refresh_shared(webinar_id, snapshot, load_document)
        except redis.RedisError as exc:
            log.warning("Redis unavailable for the stats/access snapshot (%s); using this process's copy", exc)
            snapshot = self._refresh_local(webinar_id, copy, load_document)
        snapshot.checked_at = time.monotonic()
        self._copies[webinar_id] = snapshot
        return snapshot

    def _stale(self, snapshot):
        return time.time() - snapshot.built_at >= self.max_age

    def _from_redis(self, webinar_id, copy):
        meta_key, body_key, _ = _keys(webinar_id)
        meta = get_redis().get(meta_key)
        if meta is None:
            return None
        version, built_at = _parse_meta(meta)
        if copy is not None and copy.version == version:
            copy.built_at = built_at
            return copy
        # Both again, in one read: a rebuild may have replaced them since the first (_store
        # writes them in one transaction), and a document must never carry another's version.
        meta, document = get_redis().mget(meta_key, body_key)
        if meta is None or document is None:
            return None
        return Snapshot.from_document(document, *_parse_meta(meta))

    def _build(self, load_document):
        document, version = load_document()
        snapshot = Snapshot.from_document(document, version, time.time())
        metrics.SNAPSHOT_REBUILDS.labels(METRIC_NAME).inc()
        return snapshot

    def _store(self, webinar_id, snapshot):
        meta_key, body_key, _ = _keys(webinar_id)
        pipe = get_redis().pipeline(transaction=True)
        pipe.set(body_key, snapshot.document, ex=STORED_SECONDS)
        pipe.set(meta_key, f"{snapshot.version} {snapshot.built_at}", ex=STORED_SECONDS)
        pipe.execute()

    def _refresh_shared(self, webinar_id, stale, load_document):
        _, _, lock_key = _keys(webinar_id)
        token = uuid.uuid4().hex
        if get_redis().set(lock_key, token, nx=True, px=LOCK_MILLISECONDS):
            try:
                # Another rebuilder may have stored a fresh one between our read and our lock.
                latest = self._from_redis(webinar_id, stale)
                if latest is not None and not self._stale(latest):
                    return latest
                snapshot = self._build(load_document)
                self._store(webinar_id, snapshot)
                return snapshot
            finally:
                _release(lock_key, token)
        if stale is not None:
            return stale
        deadline = time.monotonic() + COLD_WAIT_SECONDS
        while time.monotonic() < deadline:
            time.sleep(COLD_POLL_SECONDS)
            snapshot = self._from_redis(webinar_id, None)
            if snapshot is not None:
                return snapshot
        log.warning("no snapshot of webinar %s appeared in %.1f s; building one here", webinar_id, COLD_WAIT_SECONDS)
        return self._build(load_document)

    def _refresh_local(self, webinar_id, copy, load_document):
        if copy is not None and not self._stale(copy):
            return copy
        lock = self._local_locks.setdefault(webinar_id, threading.Lock())
        if lock.acquire(blocking=copy is None):
            try:
                # Another thread may have built one while this one waited for the lock.
                latest = self._copies.get(webinar_id)
                if latest is not None and not self._stale(latest):
                    return latest
                snapshot = self._copies[webinar_id] = self._build(load_document)
                return snapshot
            finally:
                lock.release()
        return copy


# Deletes the lock only if it is still ours (it may have expired and been taken by another).
_RELEASE_SCRIPT = "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) end return 0"


def _release(lock_key, token):
    try:
        get_redis().eval(_RELEASE_SCRIPT, 1, lock_key, token)
    except redis.RedisError:
        pass  # it expires on its own


def init_app(app, settings):
    app.extensions["eventflow.snapshots"] = SnapshotCache(settings.snapshot_max_age_seconds)


def snapshots():
    return current_app.extensions["eventflow.snapshots"]
