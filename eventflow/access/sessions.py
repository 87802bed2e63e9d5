"""Duplicate login without a database call or an extra request.

When a viewer opens a session (access/track on entry), Redis records it as their newest session
in that webinar. Their 5-second stats/access poll carries its session_id, and the answer says
whether a newer session has superseded it: the first device learns within one poll (about 5 s).
"""

import logging

import redis

from eventflow.redis_client import get_redis

log = logging.getLogger(__name__)

# Longer than any webinar: the marker only has to outlive the viewing.
NEWEST_SESSION_SECONDS = 24 * 3600


def _key(webinar_id, user_id):
    return f"ef:newest-session:{webinar_id}:{user_id}"


def record_newest(webinar_id, user_id, session_id):
    try:
        get_redis().set(_key(webinar_id, user_id), str(session_id), ex=NEWEST_SESSION_SECONDS)
    except redis.RedisError:
        log.warning("Redis unavailable; duplicate-login detection misses session %s", session_id)


def is_superseded(webinar_id, user_id, session_id):
    """True if a newer session of the same viewer exists; None when it cannot be told."""
    try:
        newest = get_redis().get(_key(webinar_id, user_id))
    except redis.RedisError:
        return None
    if newest is None:
        return None
    return newest.decode() != str(session_id)
