"""What wakes the stream processes: one Redis pub/sub channel, published to after commits.

* A feed's marker raise (chat/feed.py) publishes "<webinar> <feed> <seq> <published_at>" in the
  same Lua call that raises it, only when it actually rose: one notice per committed change (or
  burst), none for a raise that changed nothing.
* access/track that opened a new session publishes "<webinar> session <user> <session>": the
  viewer's other streams are superseded at once, without waiting for the live-list snapshot.

Every stream process subscribes once (stream/hub.py) and fans the notices out in memory.
"""

import logging
import time
from dataclasses import dataclass

import redis

from eventflow.redis_client import get_redis

log = logging.getLogger(__name__)

CHANNEL = "ef:changes"
SESSION = "session"


@dataclass(frozen=True)
class Notice:
    webinar_id: str
    kind: str  # a feed name, or SESSION
    subject: str  # the feed's seq, or the viewer's user id
    detail: str  # when the change was published (epoch seconds), or the new session id


def parse(message):
    webinar_id, kind, subject, detail = message.decode().split(" ")
    return Notice(webinar_id, kind, subject, detail)


def announce_session(webinar_id, user_id, session_id):
    """Tell the streams that this viewer's newest session is `session_id` (after its commit)."""
    try:
        get_redis().publish(CHANNEL, f"{webinar_id} {SESSION} {user_id} {session_id}")
    except redis.RedisError:
        log.warning("Redis unavailable; the new session of %s in %s was not announced", user_id, webinar_id)


def now():
    return f"{time.time():.6f}"
