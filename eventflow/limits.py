"""Rate limits (flask-limiter, counted across processes through the shared Redis): per caller
and webinar on each endpoint.

A webinar id that names no webinar counts in one shared "unknown webinar" bucket per caller, so
random ids cannot multiply a caller's allowance. The counters live in process memory and are
shared through Redis in batches (eventflow/limit_storage.py): a check costs no network call.

Each limit is sized from the seed's cadence with generous headroom, so a well-behaved client
(even with a second tab and a reload or two) never sees a 429 while a looping one does.
When Redis is unreachable each process enforces the limits on its own counts: they stay roughly
in force and the hot path keeps answering (fail open towards availability, not towards abuse).
"""

import functools
import math
import time

from flask import request
from flask_limiter import Limiter, RateLimitExceeded
from limits import parse as parse_limit
from werkzeug.exceptions import HTTPException

from eventflow import errors, tenancy
from eventflow.auth import current_principal
from eventflow.limit_storage import SCHEME

KEY_PREFIX = "ef:limit"

# cadence in the seed                       -> limit per caller and webinar
STATS_ACCESS = "60 per minute"  # every 5 s (12/min)
PRESENCE_PING = "10 per minute"  # every 120 s ± 10 s
ACCESS_TRACK = "20 per minute"  # on entry, then every 5 min
ACCESS_EXIT = "20 per minute"  # once on leaving
REGISTER = "20 per minute"  # once on entry
MESSAGES_POLL = "120 per minute"  # every 2 s (30/min)
QUESTIONS_POLL = "60 per minute"  # every 5 s (12/min)
POST_MESSAGE = "30 per minute"  # a fast typist, not a flood
POST_QUESTION = "10 per minute"
UPVOTE = "30 per minute"  # no cadence in the seed: a viewer clicking through the Q&A list
DASHBOARD_STATS = "60 per minute"  # admin dashboard, every 15 s or on load
WEBINARS = "60 per minute"  # a webinar's page or the admins' list, loaded now and then


def _principal_or_none():
    # Never raise inside a key or limit function: flask-limiter would take its storage for dead.
    # A request without a valid token is limited by address, and answered 401 by its blueprint.
    try:
        return current_principal()
    except HTTPException:
        return None


def caller_and_webinar():
    """The limit key: who is calling (from the verified token) in which existing webinar.

    An id that names no webinar keys as "unknown": random ids share one bucket. Without a valid
    token the request is keyed by address, and no lookup is made for it."""
    principal = _principal_or_none()
    if principal is None:
        return f"unauthenticated@{request.remote_addr}"
    webinar_id = (request.view_args or {}).get("webinar_id")
    if webinar_id is None:
        return f"{principal.user_id}:-"
    try:
        known = tenancy.lookup_webinar(webinar_id) is not None
    except Exception:  # noqa: BLE001 - never raise in a key function; the view reports the error
        known = True
    return caller_in_webinar(principal.user_id, webinar_id if known else "unknown")


def caller_in_webinar(user_id, webinar_id):
    return f"{user_id}:{webinar_id}"


limiter = Limiter(
    key_func=caller_and_webinar,
    strategy="fixed-window",  # the one strategy the batched counters support
    # No X-RateLimit-* headers: the remaining allowance is only as exact as the last sync. A
    # 429 still says when to come back (Retry-After, below).
    headers_enabled=False,
    swallow_errors=True,
    key_prefix=KEY_PREFIX,
)


@functools.cache
def _parsed(limit):
    return parse_limit(limit)


def admit(limit, endpoint, key):
    """Count a request to `endpoint` answered without Flask (the stats/access fast lane) in the
    counter flask-limiter's decorator keeps for it; False once the limit is exceeded."""
    return limiter.limiter.hit(_parsed(limit), KEY_PREFIX, key, endpoint)


def init_app(app, redis_client):
    app.config["RATELIMIT_STORAGE_URI"] = f"{SCHEME}://"
    app.config["RATELIMIT_STORAGE_OPTIONS"] = {"redis_client": redis_client}
    limiter.init_app(app)

    @app.errorhandler(RateLimitExceeded)
    def too_many_requests(exc):
        # Only a refused request pays for reading when its window ends.
        retry_after = max(1, math.ceil(limiter.current_limit.reset_at - time.time())) if limiter.current_limit else 60
        return errors.json_error(429, f"rate limit exceeded: {exc.description}", {"Retry-After": str(retry_after)})
