"""Documents built from PostgreSQL by one process at a time and read by every process from Redis.

The stats/access snapshot, the dashboard and the chat change windows are each asked for far more
often than they change, by many processes. Each is kept in Redis as two keys: a small `meta`
(its version, and when it was built) and the `body`, written together in one MULTI, so that a
process learns from a few bytes whether its own parsed copy is still current, and a reader of
both in one MGET never pairs a body with another's meta. Rebuilding takes a lock
(`rebuild_lock`), so that one process per change reads PostgreSQL while the others keep serving
what they have.

`SharedDocuments` is that scheme for documents that go stale with age (rebuilt at most once per
`max_age_seconds`); the chat windows (chat/window.py) go stale when their feed moves instead,
and use the storage and the lock below directly.

Metrics: eventflow_snapshot_rebuilds_total{snapshot=<name>} counts the rebuilds;
eventflow_cache_hits_total / _misses_total{cache=<name>} the requests answered from an existing
document and those that had to build one.
"""

import logging
import threading
import time
import uuid
from contextlib import contextmanager

import redis

from eventflow import metrics
from eventflow.redis_client import get_redis

log = logging.getLogger(__name__)

# How long a process trusts its copy before asking Redis whether a newer one exists.
LOCAL_CHECK_SECONDS = 0.2
# A document nobody asks for disappears from Redis after this.
STORED_SECONDS = 300
# The rebuilder's lock outlives a slow rebuild but not a crashed one.
LOCK_MILLISECONDS = 5000
# A cold document (none anywhere) is waited for this long before this process builds it too.
COLD_WAIT_SECONDS = 2.0
COLD_POLL_SECONDS = 0.02


def _keys(prefix, key):
    base = f"{prefix}:{key}"
    return f"{base}:meta", f"{base}:body", f"{base}:lock"


def store(prefix, key, meta, body):
    """Write a document and its meta together."""
    meta_key, body_key, _ = _keys(prefix, key)
    pipe = get_redis().pipeline(transaction=True)
    pipe.set(body_key, body, ex=STORED_SECONDS)
    pipe.set(meta_key, meta, ex=STORED_SECONDS)
    pipe.execute()


def read_meta(prefix, key):
    """The stored meta (bytes), or None."""
    return get_redis().get(_keys(prefix, key)[0])


def read_both(prefix, key):
    """(meta, body) as stored together, or None."""
    meta_key, body_key, _ = _keys(prefix, key)
    meta, body = get_redis().mget(meta_key, body_key)
    return None if meta is None or body is None else (meta, body)


# Deletes the lock only if it is still ours (it may have expired and been taken by another).
_RELEASE_SCRIPT = "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) end return 0"


@contextmanager
def rebuild_lock(prefix, key):
    """Yields True to the one caller across all processes that may rebuild the document now."""
    lock_key = _keys(prefix, key)[2]
    token = uuid.uuid4().hex
    held = bool(get_redis().set(lock_key, token, nx=True, px=LOCK_MILLISECONDS))
    try:
        yield held
    finally:
        if held:
            try:
                get_redis().eval(_RELEASE_SCRIPT, 1, lock_key, token)
            except redis.RedisError:
                pass  # it expires on its own


class SharedDocuments:
    """Snapshots of one kind (one per app): this process's parsed copies, and the rules for
    refreshing them. `parse(document, version, built_at)` makes a snapshot of a stored document;
    a snapshot carries `document`, `version`, `built_at` (epoch seconds) and a writable
    `checked_at` (monotonic: when this process last confirmed it current)."""

    def __init__(self, name, prefix, max_age_seconds, parse, stale_answer_seconds=0.0):
        self.name = name  # its label in the metrics
        self.prefix = prefix
        self.max_age = max_age_seconds
        # How much older than max_age a document may still be answered while `get`'s caller
        # rebuilds it afterwards (its `refresh_later`); older ones are rebuilt before answering.
        self.stale_answer = stale_answer_seconds
        self._parse = parse
        self._copies = {}
        self._local_locks: dict[str, threading.Lock] = {}

    def confirmed_copy(self, key):
        """This process's copy if it was confirmed current moments ago, else None: all a request
        needs from memory alone. The caller counts the hit once it answers from it (the stats/access
        fast lane may still hand the request to Flask)."""
        copy = self._copies.get(key)
        if copy is not None and time.monotonic() - copy.checked_at < LOCAL_CHECK_SECONDS:
            return copy
        return None

    def get(self, key, load_document, refresh_later=None):
        """The current snapshot under `key`; `load_document()` reads its document from
        PostgreSQL: (the document, its version). With `refresh_later`, a stored snapshot stale by
        less than `stale_answer_seconds` is returned as it is, and `refresh_later(refresh)` is
        handed its rebuild to run once the answer has left: `refresh(load_document)`."""
        copy = self.confirmed_copy(key)
        if copy is not None:
            metrics.CACHE_HITS.labels(self.name).inc()
            return copy
        copy = self._copies.get(key)
        built = []

        def load_document_counted():
            built.append(True)
            return load_document()

        snapshot = self._current(key, copy, load_document_counted, refresh_later)
        (metrics.CACHE_MISSES if built else metrics.CACHE_HITS).labels(self.name).inc()
        return snapshot

    def _current(self, key, copy, load_document, refresh_later=None):
        try:
            snapshot = self._from_redis(key, copy)
            if snapshot is not None and refresh_later is not None and self._stale_but_answerable(snapshot):
                stale = snapshot
                refresh_later(lambda load: self._keep(key, self._refresh_shared(key, stale, load)))
            elif snapshot is None or self._stale(snapshot):
                snapshot = self._refresh_shared(key, snapshot, load_document)
        except redis.RedisError as exc:
            log.warning("Redis unavailable for %s (%s); using this process's copy", self.name, exc)
            snapshot = self._refresh_local(key, copy, load_document)
        return self._keep(key, snapshot)

    def _keep(self, key, snapshot):
        snapshot.checked_at = time.monotonic()
        self._copies[key] = snapshot
        return snapshot

    def _stale(self, snapshot):
        return time.time() - snapshot.built_at >= self.max_age

    def _stale_but_answerable(self, snapshot):
        return self.max_age <= time.time() - snapshot.built_at < self.max_age + self.stale_answer

    def _from_redis(self, key, copy):
        meta = read_meta(self.prefix, key)
        if meta is None:
            return None
        version, built_at = _parse_meta(meta)
        if copy is not None and copy.version == version:
            copy.built_at = built_at
            return copy
        # Both again, in one read: a rebuild may have replaced them since the first.
        found = read_both(self.prefix, key)
        if found is None:
            return None
        meta, document = found
        return self._parse(document, *_parse_meta(meta))

    def _build(self, load_document):
        document, version = load_document()
        snapshot = self._parse(document, version, time.time())
        metrics.SNAPSHOT_REBUILDS.labels(self.name).inc()
        return snapshot

    def _refresh_shared(self, key, stale, load_document):
        with rebuild_lock(self.prefix, key) as held:
            if held:
                # Another rebuilder may have stored a fresh one between our read and our lock.
                latest = self._from_redis(key, stale)
                if latest is not None and not self._stale(latest):
                    return latest
                snapshot = self._build(load_document)
                store(self.prefix, key, f"{snapshot.version} {snapshot.built_at}", snapshot.document)
                return snapshot
        if stale is not None:
            return stale
        deadline = time.monotonic() + COLD_WAIT_SECONDS
        while time.monotonic() < deadline:
            time.sleep(COLD_POLL_SECONDS)
            snapshot = self._from_redis(key, None)
            if snapshot is not None:
                return snapshot
        log.warning("no %s of %s appeared in %.1f s; building one here", self.name, key, COLD_WAIT_SECONDS)
        return self._build(load_document)

    def _refresh_local(self, key, copy, load_document):
        if copy is not None and not self._stale(copy):
            return copy
        lock = self._local_locks.setdefault(key, threading.Lock())
        if lock.acquire(blocking=copy is None):
            try:
                # Another thread may have built one while this one waited for the lock.
                latest = self._copies.get(key)
                if latest is not None and not self._stale(latest):
                    return latest
                snapshot = self._copies[key] = self._build(load_document)
                return snapshot
            finally:
                lock.release()
        return copy


def _parse_meta(meta):
    """(version, built_at) from the small key beside the document."""
    version, built_at = meta.decode().split(" ")
    return version, float(built_at)
