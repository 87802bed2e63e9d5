"""One stream process's fan-out: one Redis subscription, one in-memory channel per webinar.

Each stream is a `Subscriber` with a queue of bytes its response sends as they come. Per
webinar with streams open in this process, a `Channel` greenlet brings every subscriber up to
the feed's head whenever a notice (stream/notices.py) says the feed moved, and whenever a
subscriber joins (which is how resuming works: a new subscriber is one whose cursor is behind):

* **Once per change, not once per viewer.** The channel reads the marker and takes the feed's
  shared change window (chat/window.py) once: the window holds the changes as "any participant"
  and "the admins" see them, read under real row-level security by one process per burst. The
  subscribers that share an audience and a cursor share one rendering of their events.
* **A caller's own rows** (their hidden message, private or pending question, upvotes: what the
  window cannot know of them) come from PostgreSQL, read as that caller, exactly when the
  window's per-user marker says one changed after their cursor, as for the polls; so does a
  cursor older than the window. Either way the events are the rows the caller's poll from the
  same cursor returns, in the same order (tests/stream/test_differential.py).
* **access** is the caller's stats/access answer, from the same per-webinar snapshot the polls
  use, sent when its ETag changed and at most once per ACCESS_SECONDS; **superseded** is sent
  when access/track announces a newer session of the same viewer, or the snapshot shows one.
* A ticker ends the streams whose token expired (an `expired` event) and, once gunicorn asks the
  worker to stop, every stream with a short `retry:` so that clients resume on another worker.

Metrics: eventflow_stream_open (streams open), eventflow_stream_events_sent_total{event},
eventflow_stream_fanout_lag_seconds (a change's publication to its last subscriber's queue) and
eventflow_stream_database_reads_total{reason} (the reads a caller's own rows cost; the window's
refills are eventflow_snapshot_rebuilds_total{snapshot="chat_window"}).
"""

import bisect
import logging
import resource
import time
import uuid
from collections import Counter

import gevent
import gevent.monkey
import orjson
import redis
from flask import current_app
from gevent.event import Event
from gevent.queue import Empty, Queue
from werkzeug.datastructures import ETags
from werkzeug.http import unquote_etag

from eventflow import breaker, config, db, metrics
from eventflow.access import poll
from eventflow.access import queries as access_queries
from eventflow.access.snapshot import snapshots
from eventflow.auth import ADMINS, CLIENT_ADMIN, PARTICIPANT
from eventflow.chat import feed, window
from eventflow.chat.schemas import MAX_PAGE, MessageSchema, QuestionSchema
from eventflow.stream import events, notices

log = logging.getLogger(__name__)

EXTENSION_KEY = "eventflow.stream_hub"
ROW_SCHEMAS = {feed.MESSAGES: MessageSchema(), feed.QUESTIONS: QuestionSchema()}
ACCESS_SECONDS = 5.0  # the "at most once per 5 s"
TICK_SECONDS = 0.5
ADMIN_VIEWER_LIMIT = 5000  # what the admin console asks stats/access for
FD_RESERVE = 200  # descriptors kept for the pool, Redis, logs and the listening socket
LISTEN_RETRY_SECONDS = 1.0
# A delivery that could not finish (a window being refilled elsewhere) is tried again after this.
RETRY_SECONDS = 0.05
DATABASE_RETRY_SECONDS = 1.0

# Set by the stream's gunicorn configuration: the worker whose `alive` turning False means stop.
_worker = None


def watch_worker(worker):
    global _worker
    _worker = worker


def _draining():
    return _worker is not None and not _worker.alive


class Subscriber:
    """One open stream: who it is for, how far it got in each feed, and its outgoing queue."""

    def __init__(self, principal, webinar, context, cursors, session_id):
        self.principal = principal
        self.webinar = webinar
        self.context = context  # the request's row-level security context (tenancy.enter_webinar)
        self.cursors = cursors
        self.session_id = None if session_id is None else str(session_id)
        self.audience = window.audience_of(principal)
        self.queue = Queue()
        self.closed = False
        self.access_etag = None
        self.access_sent_at = float("-inf")

    def send(self, chunk):
        if not self.closed:
            self.queue.put(chunk)

    def close(self, chunk, kind=None):
        """Send a last chunk (with one event of `kind`) and end the stream."""
        if not self.closed:
            self.send(chunk)
            self.closed = True
            self.queue.put(None)
            if kind:
                metrics.STREAM_EVENTS_SENT.labels(kind).inc()

    def chunks(self, hub):
        """The response body: the retry hint, then what the channel queues, with a heartbeat
        comment whenever nothing was sent for a while (EVENTFLOW_STREAM_HEARTBEAT_SECONDS)."""
        try:
            yield events.retry(events.RETRY_MILLISECONDS)
            while True:
                try:
                    chunk = self.queue.get(timeout=hub.heartbeat_seconds)
                except Empty:
                    chunk = events.HEARTBEAT
                if chunk is None:
                    return
                yield chunk
        finally:
            hub.unsubscribe(self)


def _row_events(feed_name, changes):
    """(seq, event kind, data) of a page's changes, in order: a row the caller sees as its
    poll item; consecutive rows that left their view as one `removed` event."""
    rendered = []
    for row in changes:
        if row["removed"]:
            if rendered and rendered[-1][1] == "removed":
                rendered[-1][2]["ids"].append(row["id"])
                rendered[-1][0] = row["seq"]
            else:
                rendered.append([row["seq"], "removed", {"feed": feed_name, "ids": [row["id"]]}])
        else:
            item = orjson.dumps(ROW_SCHEMAS[feed_name].dump(row))
            rendered.append([row["seq"], events.ROW_EVENTS[feed_name], item])
    return rendered


def _render(cursors, feed_name, rendered, head):
    """(the bytes of a page's events for a subscriber at `cursors`, the feed's cursor after
    them, how many events of each kind). A cursor that moves past changes the caller does not
    see gets an `id:` line of its own."""
    cursors = dict(cursors)
    chunks, kinds = [], Counter()
    for seq, kind, data in rendered:
        cursors[feed_name] = seq
        chunks.append(events.event(kind, data, cursors))
        kinds[kind] += 1
    if head > cursors[feed_name]:
        cursors[feed_name] = head
        chunks.append(events.cursor_only(cursors))
    return b"".join(chunks), cursors[feed_name], kinds


class Channel:
    """The streams of one webinar in this process, and the greenlet that feeds them."""

    def __init__(self, hub, webinar):
        self.hub = hub
        self.webinar = webinar
        self.subscribers = set()
        self.pending = set()
        self.published_at = None
        self.wake = Event()
        self.stopped = False
        gevent.spawn(self._run)

    def add(self, subscriber):
        self.subscribers.add(subscriber)
        self.notify(events.FEEDS)

    def notify(self, feeds, published_at=None):
        self.pending.update(feeds)
        if published_at is not None and (self.published_at is None or published_at < self.published_at):
            self.published_at = published_at
        self.wake.set()

    def _run(self):
        with self.hub.app.app_context():
            while not self.stopped:
                self.wake.wait()
                self.wake.clear()
                todo, self.pending = self.pending, set()
                published_at, self.published_at = self.published_at, None
                for feed_name in events.FEEDS:
                    if feed_name in todo:
                        self._deliver(feed_name)
                if published_at is not None:
                    metrics.STREAM_FANOUT_LAG.observe(max(0.0, time.time() - published_at))

    def _deliver(self, feed_name):
        """Bring every subscriber up to the feed's head; if that cannot be done now (the window
        is still being refilled by another process, the database failed), try again shortly:
        no later notice may come to wake this channel."""
        marker, redis_ok = feed.read_marker(self.webinar.id, feed_name)
        behind = [s for s in self.subscribers if not s.closed and (marker is None or s.cursors[feed_name] < marker)]
        if not behind:
            return
        shared = window.windows().current(self.webinar, feed_name, marker) if redis_ok else None
        # A window behind the marker is being refilled by another process: soon in Redis.
        retry_after = RETRY_SECONDS if shared is not None and marker is not None and shared.head < marker else None
        # What the window gives is the same bytes for every subscriber of an audience at the same
        # cursors: rendered once per (audience, cursors), whatever the number of subscribers.
        rendered, counts = {}, Counter()
        for subscriber in behind:
            after = subscriber.cursors[feed_name]
            if shared is not None and shared.answers(subscriber.principal.user_id, after):
                key = (subscriber.audience, *subscriber.cursors.values())
                if key not in rendered:
                    page = self._from_window(shared, feed_name, subscriber.audience, after)
                    rendered[key] = _render(subscriber.cursors, feed_name, *page)
                sent = rendered[key]
            else:
                page = self._from_postgres(subscriber, feed_name, after, "own rows" if shared else "no window")
                sent = None if page is None else _render(subscriber.cursors, feed_name, *page)
            if sent is None:
                retry_after = DATABASE_RETRY_SECONDS
                continue
            chunk, cursor, kinds = sent
            subscriber.cursors[feed_name] = cursor
            if chunk:
                subscriber.send(chunk)
                counts.update(kinds)
        for kind, count in counts.items():
            metrics.STREAM_EVENTS_SENT.labels(kind).inc(count)
        if retry_after is not None:
            gevent.spawn_later(retry_after, self.notify, (feed_name,))

    @staticmethod
    def _from_window(shared, feed_name, audience, after):
        start = bisect.bisect_right(shared.seqs[audience], after)
        return _row_events(feed_name, shared.rows[audience][start:]), shared.head

    def _from_postgres(self, subscriber, feed_name, after, reason):
        """Every change after `after` as the caller's polls read them, page after page; None if
        the database failed (the subscriber keeps its cursor and catches up on the next change)."""
        rendered = []
        params = {
            "webinar_id": self.webinar.id,
            "user_id": subscriber.principal.user_id,
            "admin": subscriber.principal.role in ADMINS,
            "feed": feed_name,
            "limit": MAX_PAGE,
            "status": None,
        }
        try:
            with db.transaction(db.get_pool(), subscriber.context) as conn:
                while True:
                    metrics.STREAM_DATABASE_READS.labels(reason).inc()
                    rows = conn.execute(window.POLLS[feed_name], params | {"after": after}).fetchall()
                    changes = [row for row in rows if row["seq"] is not None]
                    rendered += _row_events(feed_name, changes)
                    if len(changes) < MAX_PAGE:
                        return rendered, rows[0]["head"]
                    after = changes[-1]["seq"]
        except breaker.DATABASE_FAILURES as exc:
            log.warning(
                "stream of %s in %s not brought up to date: %s", subscriber.principal.user_id, self.webinar.id, exc
            )
            return None

    def supersede(self, user_id, session_id):
        """access/track opened `session_id` for this viewer: their streams of other sessions end."""
        for subscriber in list(self.subscribers):
            mine = str(subscriber.principal.user_id) == user_id
            if mine and subscriber.session_id is not None and subscriber.session_id != session_id:
                subscriber.close(events.event("superseded", {"superseded": True}), "superseded")

    def tick(self, now):
        for subscriber in list(self.subscribers):
            if subscriber.principal.expires_at <= now:
                subscriber.close(events.event("expired", {"message": "the token expired"}), "expired")
        due = [s for s in self.subscribers if not s.closed and now - s.access_sent_at >= ACCESS_SECONDS]
        if not due:
            return
        try:
            snapshot = snapshots().get(str(self.webinar.id), self._live_list)
        except (redis.RedisError, *breaker.DATABASE_FAILURES) as exc:
            log.warning("no live list for the streams of %s: %s", self.webinar.id, exc)
            return
        answers = {}
        for subscriber in due:
            self._send_access(subscriber, snapshot, now, answers)
        sent = sum(subscriber.access_sent_at == now for subscriber in due)
        metrics.STREAM_EVENTS_SENT.labels("access").inc(sent)

    def _live_list(self):
        """The snapshot's document, read as an admin of the webinar's client (who sees who is
        live, as its participants do)."""
        context = db.RequestContext(user_id=uuid.uuid4(), role=CLIENT_ADMIN, client_id=self.webinar.client_id)
        params = {"webinar_id": self.webinar.id, "timeout": config.current().presence_timeout_seconds}
        with db.transaction(db.get_pool(), context) as conn:
            row = conn.execute(access_queries.LIVE_LIST, params).fetchone()
        return row["document"], row["version"]

    @staticmethod
    def _send_access(subscriber, snapshot, now, answers):
        """The caller's stats/access answer if it changed since the last one sent. Answers are
        the same for every participant who is not on the list (and for every admin): `answers`
        keeps each one made during this tick."""
        never = ETags()  # the body is made once per kind of answer; the ETag is compared here
        if subscriber.principal.role == PARTICIPANT:
            user_id = subscriber.principal.user_id
            superseded = None if subscriber.session_id is None else snapshot.superseded(user_id, subscriber.session_id)
            key = (user_id if snapshot.position_of(user_id) is not None else None, superseded)
            if key not in answers:
                limit = config.current().participant_viewer_limit
                answers[key] = poll.for_participant(snapshot, user_id, subscriber.session_id, limit, never)
        else:
            superseded, key = False, ADMINS
            if key not in answers:
                answers[key] = poll.for_admin(snapshot, 0, ADMIN_VIEWER_LIMIT, never)
        _, headers, payload = answers[key]
        etag = unquote_etag(headers["ETag"])[0]
        if etag != subscriber.access_etag:
            subscriber.access_etag = etag
            subscriber.access_sent_at = now
            subscriber.send(events.event("access", payload))
        if superseded:
            subscriber.close(events.event("superseded", {"superseded": True}), "superseded")


class Hub:
    """This process's streams. Created on the first stream; its greenlets run for the process's
    life (the subscription and the ticker)."""

    def __init__(self, app, max_streams, heartbeat_seconds):
        self.app = app
        self.max_streams = max_streams
        self.heartbeat_seconds = heartbeat_seconds
        self.channels = {}
        self.open = 0
        gevent.spawn(self._listen)
        gevent.spawn(self._tick)

    def admits_another(self):
        return self.open < self.max_streams and not _draining()

    def subscribe(self, subscriber):
        channel = self.channels.get(subscriber.webinar.id)
        if channel is None:
            channel = self.channels[subscriber.webinar.id] = Channel(self, subscriber.webinar)
        channel.add(subscriber)
        self.open += 1
        metrics.STREAMS_OPEN.inc()

    def unsubscribe(self, subscriber):
        subscriber.closed = True
        channel = self.channels.get(subscriber.webinar.id)
        if channel is None or subscriber not in channel.subscribers:
            return
        channel.subscribers.discard(subscriber)
        self.open -= 1
        metrics.STREAMS_OPEN.dec()
        if not channel.subscribers:
            channel.stopped = True
            channel.wake.set()
            del self.channels[subscriber.webinar.id]

    def _listen(self):
        """The process's one subscription. After (re)subscribing, every channel catches up: a
        notice published while it was not listening is never waited for."""
        url = self.app.extensions["eventflow.settings"].redis_url
        client = redis.Redis.from_url(url, socket_connect_timeout=2, health_check_interval=30)
        while True:
            try:
                pubsub = client.pubsub(ignore_subscribe_messages=True)
                pubsub.subscribe(notices.CHANNEL)
                for channel in list(self.channels.values()):
                    channel.notify(events.FEEDS)
                for message in pubsub.listen():
                    self._dispatch(notices.parse(message["data"]))
            except redis.RedisError as exc:
                log.warning("stream subscription lost (%s); resubscribing", exc)
                gevent.sleep(LISTEN_RETRY_SECONDS)
            except Exception:
                # Whatever it was, a process whose subscription died would serve stale streams.
                log.exception("stream subscription failed; resubscribing")
                gevent.sleep(LISTEN_RETRY_SECONDS)

    def _dispatch(self, notice):
        channel = self.channels.get(uuid.UUID(notice.webinar_id))
        if channel is None:
            return
        if notice.kind == notices.SESSION:
            channel.supersede(notice.subject, notice.detail)
        else:
            channel.notify((notice.kind,), float(notice.detail))

    def _tick(self):
        with self.app.app_context():
            while True:
                gevent.sleep(TICK_SECONDS)
                if _draining():
                    self._end_all()
                    continue
                now = time.time()
                for channel in list(self.channels.values()):
                    try:
                        channel.tick(now)
                    except Exception:
                        log.exception("stream tick of webinar %s failed", channel.webinar.id)

    def _end_all(self):
        for channel in list(self.channels.values()):
            for subscriber in list(channel.subscribers):
                subscriber.close(events.retry(events.RELOAD_RETRY_MILLISECONDS))


def current():
    """This process's hub, made on first use; None in a process gevent did not patch (the API's
    gthread workers): only the stream process holds streams."""
    if not gevent.monkey.is_module_patched("socket"):
        return None
    app = current_app._get_current_object()
    if EXTENSION_KEY not in app.extensions:
        settings = config.current()
        app.extensions[EXTENSION_KEY] = Hub(
            app, stream_cap(settings.stream_max_connections), settings.stream_heartbeat_seconds
        )
    return app.extensions[EXTENSION_KEY]


def stream_cap(configured):
    """The streams one process may hold: as configured, and never so many that its file
    descriptors (one per stream) run out."""
    soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    return configured if soft == resource.RLIM_INFINITY else max(0, min(configured, soft - FD_RESERVE))
