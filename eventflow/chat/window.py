"""The shared change window of each feed: the polls of a busy chat answered without PostgreSQL.

While the realtime channel is down every viewer polls messages every 2 s and questions every
5 s, and as soon as anyone posts, every poll is behind the feed's marker (feed.py). Instead of
each of them reading PostgreSQL, the feed's latest changes are read once and kept where every
process can answer from them:

* **What it holds.** The window of a feed covers the cursors from its `base` to its `head`: it
  holds every row whose last change is after `base` (at most `feed_window_changes` changes,
  EVENTFLOW_FEED_WINDOW_CHANGES, default 300), exactly as the poll query (queries.py) returns
  them for the cursor `base`, twice: once as any participant of the webinar sees them, once as
  its admins do. Both are read under a real request context (a participant of this webinar and
  a client admin of its client, each with a fresh user id that owns nothing), so row-level
  security decides what is in them; nothing here decides who may see a row.
* **Who is answered from it.** A poll whose cursor is in [base, head], by a caller none of whose
  own rows changed after the cursor: the window's page for that cursor is then exactly what
  PostgreSQL would answer (tests/chat/test_window_differential.py compares the two on random
  histories). A caller's own rows are the ones they see otherwise than "anyone" does: what they
  wrote (their hidden message, their private or pending question, `mine`) and the questions they
  upvoted (`upvoted`). The window carries, per user, the last change after `base` to such a row,
  read from the same snapshot as an admin (who sees every row and reaction); a caller with a
  later one than the cursor is answered by PostgreSQL, as are a cursor outside the window, a
  cold window and a missing Redis.
* **How it is kept.** In Redis (shared_documents.py: a small meta, the version "base-head", and
  the document), plus each process's parsed copy. The feed's marker says how far the feed has
  got: a copy whose head has reached it is current, with no further Redis call; one behind it is
  refreshed from Redis, and if Redis's is behind too, one process (a Redis lock, single flight
  across processes) reads PostgreSQL, behind the poll breaker, stores the new window and raises
  the marker, while the others keep answering from the window they have (an answer at most one
  change burst old, never a wrong one: its `next` is that window's head). So PostgreSQL sees one
  read per burst of changes, whatever the crowd. A window nobody asks for leaves Redis after
  shared_documents.STORED_SECONDS.

Metrics: eventflow_cache_hits_total / _misses_total{cache="chat_window"} count the polls answered
from a window and those left to PostgreSQL; eventflow_snapshot_rebuilds_total{snapshot=
"chat_window"} the windows read from PostgreSQL.
"""

import bisect
import logging
import uuid
from dataclasses import dataclass, field
from datetime import datetime

import orjson
import redis
from flask import current_app

from eventflow import breaker, db, metrics, shared_documents
from eventflow.auth import ADMINS, CLIENT_ADMIN, PARTICIPANT
from eventflow.chat import feed, queries

log = logging.getLogger(__name__)

KEY_PREFIX = "ef:window"
METRIC_NAME = "chat_window"
EXTENSION_KEY = "eventflow.chat_windows"
PARTICIPANTS_VIEW, ADMINS_VIEW = "participants", "admins"
POLLS = {feed.MESSAGES: queries.POLL_MESSAGES, feed.QUESTIONS: queries.POLL_QUESTIONS}
# Bodies of pages made from one copy of a window and kept for the next caller who asks the same.
BODIES_KEPT = 64
PERSONAL_CHANGES = {feed.MESSAGES: queries.PERSONAL_MESSAGE_CHANGES, feed.QUESTIONS: queries.PERSONAL_QUESTION_CHANGES}
# Columns that go through JSON as text and must come back as the datetimes the poll query gives.
TIMESTAMPS = {feed.MESSAGES: ("created_at",), feed.QUESTIONS: ("created_at", "updated_at", "answered_at")}


@dataclass
class Window:
    """One feed's changes after `base`, up to `head`, as each audience sees them."""

    version: str
    document: bytes = field(repr=False)
    base: int
    head: int
    rows: dict = field(repr=False)  # audience -> rows in seq order, as the poll query gave them
    personal: dict = field(repr=False)  # user id -> seq of their last own change after base
    seqs: dict = field(init=False, repr=False)
    _bodies: dict = field(init=False, repr=False, compare=False, default_factory=dict)

    def __post_init__(self):
        self.seqs = {audience: [row["seq"] for row in rows] for audience, rows in self.rows.items()}

    @classmethod
    def from_document(cls, feed_name, document):
        raw = orjson.loads(document)
        for rows in raw["rows"].values():
            for row in rows:
                for column in TIMESTAMPS[feed_name]:
                    if row[column] is not None:
                        row[column] = datetime.fromisoformat(row[column])
        return cls(_version(raw["base"], raw["head"]), document, raw["base"], raw["head"], raw["rows"], raw["personal"])

    def answers(self, user_id, after):
        """Whether the window holds the caller's page for the cursor: the cursor is inside it and
        no row of the caller's own changed after the cursor (then only PostgreSQL knows how the
        caller sees it)."""
        return self.base <= after <= self.head and self.personal.get(str(user_id), 0) <= after

    def body(self, key, render):
        """`render()`, made once per key in this process's copy: a page is the same for every
        caller of one audience with one cursor. At most BODIES_KEPT are kept (a client may ask
        for any limit), then they are made again."""
        body = self._bodies.get(key)
        if body is None:
            if len(self._bodies) >= BODIES_KEPT:
                self._bodies.clear()
            body = self._bodies[key] = render()
        return body

    def page(self, feed_name, audience, after, limit, status=None):
        """The poll's answer for a cursor the window covers, as the poll query and the view make
        it: the first `limit` changes after the cursor, those the caller no longer sees (or that
        left the `status` asked for) as ids in `removed`; `next` is the last change of a full
        page, else the head."""
        start = bisect.bisect_right(self.seqs[audience], after)
        changes = self.rows[audience][start : start + limit]
        # As POLL_QUESTIONS computes `removed` with a status filter (a filter the caller chose, not
        # a visibility rule; the differential test holds the two together).
        gone = [row["removed"] or (status is not None and row["status"] != status) for row in changes]
        return {
            feed_name: [row for row, removed in zip(changes, gone, strict=True) if not removed],
            "removed": [row["id"] for row, removed in zip(changes, gone, strict=True) if removed],
            "next": str(changes[-1]["seq"] if len(changes) == limit else self.head),
        }


def audience_of(principal):
    return ADMINS_VIEW if principal.role in ADMINS else PARTICIPANTS_VIEW


def _key(webinar_id, feed_name):
    """A feed's window: its key in Redis (after KEY_PREFIX) and among this process's copies."""
    return f"{webinar_id}:{feed_name}"


def _version(base, head):
    # Every change takes the next seq of its feed, so (base, head) fixes the window's content.
    return f"{base}-{head}"


def _fresh(window, marker):
    return window is not None and marker is not None and window.head >= marker


class Windows:
    """One per app: this process's copies of the windows, and the rules for refreshing them."""

    def __init__(self, size):
        self.size = size
        self._copies: dict[str, Window] = {}

    def page_for(self, principal, webinar, feed_name, marker, after, limit, status=None):
        """The caller's page from the window, or None when PostgreSQL must answer."""
        if self.size <= 0:
            return None
        window = self.current(webinar, feed_name, marker)
        if window is None or not window.answers(principal.user_id, after):
            metrics.CACHE_MISSES.labels(METRIC_NAME).inc()
            return None
        metrics.CACHE_HITS.labels(METRIC_NAME).inc()
        return window.page(feed_name, audience_of(principal), after, limit, status)

    def held(self, webinar_id, feed_name, marker):
        """This process's copy of the feed's window if it is current (its head has reached the
        marker): no Redis, no PostgreSQL. The fast lane's (chat/lane.py); None otherwise."""
        copy = self._copies.get(_key(webinar_id, feed_name))
        return copy if _fresh(copy, marker) else None

    def current(self, webinar, feed_name, marker):
        """The feed's window, refreshed if it is behind `marker` (the polls, and the stream's one
        read per change); None when there is none to be had (Redis down, a cold window whose
        refill failed)."""
        key = _key(webinar.id, feed_name)
        copy = self._copies.get(key)
        if _fresh(copy, marker):
            return copy
        try:
            window = self._from_redis(feed_name, key, copy)
            if not _fresh(window, marker):
                window = self._refill(webinar, feed_name, key, window or copy)
        except redis.RedisError as exc:
            log.warning("Redis unavailable for the %s window of webinar %s (%s)", feed_name, webinar.id, exc)
            return None
        if window is not None:
            self._copies[key] = window
        return window

    def _from_redis(self, feed_name, key, copy):
        meta = shared_documents.read_meta(KEY_PREFIX, key)
        if meta is None:
            return None
        if copy is not None and copy.version == meta.decode():
            return copy
        found = shared_documents.read_both(KEY_PREFIX, key)
        return None if found is None else Window.from_document(feed_name, found[1])

    def _refill(self, webinar, feed_name, key, stale):
        """Read the window from PostgreSQL if this process wins the lock; else (or if the
        database fails) the window there is, which may be None."""
        with shared_documents.rebuild_lock(KEY_PREFIX, key) as held:
            if not held:
                return stale
            # Another process may have refilled it between our read and our lock.
            marker, _ = feed.read_marker(webinar.id, feed_name)
            latest = self._from_redis(feed_name, key, stale)
            if _fresh(latest, marker):
                return latest
            try:
                with current_app.extensions[breaker.EXTENSION_KEY].guard() as probe:
                    window = self._read(webinar, feed_name)
                    probe.reached_database()
            except (breaker.BreakerOpen, *breaker.DATABASE_FAILURES) as exc:
                log.warning("the %s window of webinar %s was not refilled: %s", feed_name, webinar.id, exc)
                return latest
            metrics.SNAPSHOT_REBUILDS.labels(METRIC_NAME).inc()
            shared_documents.store(KEY_PREFIX, key, window.version, window.document)
        feed.raise_marker(webinar.id, feed_name, window.head)
        return window

    def _read(self, webinar, feed_name):
        """The window as PostgreSQL gives it now: one snapshot, read as an admin of the webinar
        (its head, its rows, whose own rows changed) and as any participant of it (its rows)."""
        admin = db.RequestContext(user_id=uuid.uuid4(), role=CLIENT_ADMIN, client_id=webinar.client_id)
        anyone = db.RequestContext(
            user_id=uuid.uuid4(),
            role=PARTICIPANT,
            client_id=webinar.client_id,
            agency_id=webinar.agency_id,
            webinar_id=webinar.id,
        )
        params = {"webinar_id": webinar.id, "feed": feed_name, "status": None}
        with db.get_pool().connection() as conn, conn.transaction():
            conn.execute(queries.ONE_SNAPSHOT)
            admin.set_on(conn)
            head = conn.execute(queries.FEED_HEAD, params).fetchone()["head"]
            base = max(0, head - self.size)
            # At most `size` changes after base, so at most `size` rows: the page is never cut.
            params |= {"after": base, "limit": self.size}
            admin_rows = _changes(conn, POLLS[feed_name], params | {"user_id": admin.user_id, "admin": True})
            personal = conn.execute(PERSONAL_CHANGES[feed_name], params).fetchall()
            anyone.set_on(conn)
            anyone_rows = _changes(conn, POLLS[feed_name], params | {"user_id": anyone.user_id, "admin": False})
        document = orjson.dumps(
            {
                "base": base,
                "head": head,
                "rows": {ADMINS_VIEW: admin_rows, PARTICIPANTS_VIEW: anyone_rows},
                "personal": {str(row["user_id"]): row["seq"] for row in personal},
            }
        )
        return Window.from_document(feed_name, document)


def _changes(conn, query, params):
    """The changes of a poll query's answer (without its head column)."""
    rows = conn.execute(query, params).fetchall()
    return [{k: v for k, v in row.items() if k != "head"} for row in rows if row["seq"] is not None]


def init_app(app):
    """Give the app its windows (once per app)."""
    if EXTENSION_KEY not in app.extensions:
        app.extensions[EXTENSION_KEY] = Windows(app.extensions["eventflow.settings"].feed_window_changes)


def windows():
    return current_app.extensions[EXTENSION_KEY]
