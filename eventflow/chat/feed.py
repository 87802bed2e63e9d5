"""The polls' fast path: a per-webinar "latest change" marker in Redis, and how soon to poll again.

Each feed (a webinar's messages, a webinar's questions) has a marker in Redis holding the
highest feed seq known to be committed (see migration 0006). A poll whose cursor equals the
marker has nothing to fetch and is answered without the database. The marker only ever rises
(a Lua max), so a slow writer cannot set it back; it is raised after each write commits (the
views hand the raise to db.after_commit), and after each poll that read the database, with
whatever head that read saw.

If a raise is lost (Redis unreachable at that moment, a process killed between commit and
raise), the marker would claim "nothing new" for a change that exists: so it expires
`feed_marker_ttl_seconds` after it was last raised, and the next poll reads PostgreSQL and sets
it again. That bounds the delay a lost raise can cause. With Redis down, every poll reads
PostgreSQL (behind the breaker) and clients are told to poll more slowly.

Each process also remembers the markers it read or raised, with when (RecentMarkers). The fast
lane (lane.py) takes a marker seen within `feed_marker_recent_seconds` (0.2 s) instead of asking
Redis again: its poll is answered as if it had come that much earlier, which a client polling
every 2 or 5 s cannot tell; a change made through this process is seen by its next poll at once,
one made through another process within that time. That Redis round trip was about a third of
the CPU of a poll the lane answers (bench/PROFILE.md).
"""

import logging
import time

import redis
from flask import current_app

from eventflow import config, db
from eventflow.redis_client import get_redis
from eventflow.stream import notices

log = logging.getLogger(__name__)

MESSAGES, QUESTIONS = "messages", "questions"

# KEYS[1] = marker, ARGV[1] = seq, ARGV[2] = ttl, ARGV[3] = channel, ARGV[4] = the notice: set to
# max(current, seq), refresh the ttl, and when it rose tell the stream processes (stream/notices.py).
RAISE_MARKER = """
local current = tonumber(redis.call('get', KEYS[1]) or '-1')
local seq = tonumber(ARGV[1])
if seq > current then
    redis.call('set', KEYS[1], ARGV[1], 'EX', tonumber(ARGV[2]))
    redis.call('publish', ARGV[3], ARGV[4])
    return seq
end
return current
"""


EXTENSION_KEY = "eventflow.recent_markers"


class RecentMarkers:
    """The markers this process read from Redis or raised there, each with when (monotonic)."""

    def __init__(self, seconds):
        self.seconds = seconds
        self._seen = {}

    def note(self, key, marker):
        self._seen[key] = (time.monotonic(), marker)

    def get(self, key):
        """(True, marker) if seen within `seconds`, else (False, None)."""
        seen = self._seen.get(key)
        if seen is None or time.monotonic() - seen[0] >= self.seconds:
            return False, None
        return True, seen[1]


def init_app(app):
    seconds = app.extensions["eventflow.settings"].feed_marker_recent_seconds
    app.extensions.setdefault(EXTENSION_KEY, RecentMarkers(seconds))


def marker_key(webinar_id, feed):
    return f"ef:feed:{webinar_id}:{feed}"


def read_marker(webinar_id, feed):
    """The feed's committed head as Redis knows it: (seq or None, whether Redis answered)."""
    key = marker_key(webinar_id, feed)
    try:
        value = get_redis().get(key)
    except redis.RedisError:
        log.warning("Redis unavailable; %s poll of webinar %s goes to PostgreSQL", feed, webinar_id)
        return None, False
    marker = None if value is None else int(value)
    current_app.extensions[EXTENSION_KEY].note(key, marker)
    return marker, True


def recent_marker(webinar_id, feed):
    """read_marker's answer, or the marker this process read or raised within `feed_marker_recent_seconds`."""
    seen, marker = current_app.extensions[EXTENSION_KEY].get(marker_key(webinar_id, feed))
    return (marker, True) if seen else read_marker(webinar_id, feed)


def raise_marker(webinar_id, feed, seq):
    """Raise the marker to `seq`, a head that has committed. Never lowers it."""
    try:
        script = get_redis().register_script(RAISE_MARKER)
        notice = f"{webinar_id} {feed} {seq} {notices.now()}"
        ttl = config.current().feed_marker_ttl_seconds
        key = marker_key(webinar_id, feed)
        raised = script(keys=[key], args=[seq, ttl, notices.CHANNEL, notice])
        current_app.extensions[EXTENSION_KEY].note(key, int(raised))
    except redis.RedisError:
        log.warning("Redis unavailable; %s marker of webinar %s not raised to %s", feed, webinar_id, seq)


def _pool_is_busy():
    """Every connection of this process is in use: the next poll that needs one may be refused,
    so clients are slowed first."""
    pool = current_app.extensions["eventflow.pool"]
    return not pool.closed and db.is_saturated(pool)


def poll_interval(feed, redis_ok=True):
    """Seconds a client should wait before polling again (the Poll-Interval header): the seed's
    cadence, multiplied by `poll_slowdown_factor` while this process is short of database
    connections or Redis is down (so every poll costs a query)."""
    settings = config.current()
    base = settings.messages_poll_interval_seconds if feed == MESSAGES else settings.questions_poll_interval_seconds
    slow = not redis_ok or _pool_is_busy()
    return base * settings.poll_slowdown_factor if slow else base


def poll_headers(feed, redis_ok):
    """The headers of every poll's answer."""
    return {"Poll-Interval": str(poll_interval(feed, redis_ok)), "Cache-Control": "no-store"}


def empty_page(feed, after):
    """The answer to a poll whose cursor is the feed's marker: nothing new."""
    return {feed: [], "removed": [], "next": str(after)}
