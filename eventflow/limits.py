"""Rate limits (flask-limiter, counted across processes through the shared Redis): per caller
and webinar on each endpoint, and per caller across all webinars.

The keys come from the verified token and the URL alone, so a request is counted (and a looping
one refused) before anything is looked up in the database: a caller spraying random webinar ids
spends its across-webinars allowance, not tenant lookups. The counters live in process memory
and are shared through Redis in batches (eventflow/limit_storage.py): a check costs no network call.

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
from flask_limiter.util import get_qualified_name
from limits import parse as parse_limit
from werkzeug.exceptions import HTTPException

from eventflow import errors
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
STREAM_TICKET = "20 per minute"  # one per stream (re)connect: 2 s after a reload, 30 s after a failure
# Across all webinars one caller may use an endpoint this many times its per-webinar limit: a
# viewer in two rooms at once at full rate, or an admin with a few consoles open; not a token
# touching eight webinars at the full rate of each.
ACROSS_WEBINARS_FACTOR = 2


def _principal_or_none():
    # Never raise inside a key or limit function: flask-limiter would take its storage for dead.
    # A request without a valid token is limited by address, and answered 401 by its blueprint.
    try:
        return current_principal()
    except HTTPException:
        return None


def _unauthenticated():
    return f"unauthenticated@{request.remote_addr}"


def caller_and_webinar():
    """The per-webinar key: who is calling (from the verified token) in the webinar the URL
    names, whether it exists or not (nothing is looked up). Without a valid token the request
    is keyed by address."""
    principal = _principal_or_none()
    if principal is None:
        return _unauthenticated()
    return _KEYS[caller_and_webinar](principal.user_id, (request.view_args or {}).get("webinar_id", "-"))


def caller():
    """The across-webinars key: who is calling, wherever."""
    principal = _principal_or_none()
    return _unauthenticated() if principal is None else _KEYS[caller](principal.user_id, None)


# Each key function's key for an authenticated caller, from the caller's id and the URL's webinar:
# the one definition both the key functions (in Flask) and admit (before Flask) use.
_KEYS = {
    caller_and_webinar: lambda user_id, webinar_id: f"{user_id}:{webinar_id}",
    caller: lambda user_id, webinar_id: str(user_id),
}


@functools.cache
def across_webinars(limit):
    item = _parsed(limit)
    return f"{item.amount * ACROSS_WEBINARS_FACTOR} per {item.multiples} {item.GRANULARITY.name}"


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


def per_caller(limit):
    """Decorator of a webinar's endpoint: `limit` per caller and webinar, and
    ACROSS_WEBINARS_FACTOR times it per caller across all webinars."""
    in_one = limiter.limit(limit, key_func=caller_and_webinar)
    in_all = limiter.limit(across_webinars(limit), key_func=caller)
    return lambda view: in_all(in_one(view))


@functools.cache
def _registered(view, endpoint, method):
    """(limit, key builder, scope) of each limit flask-limiter keeps for `view`, in its order:
    registered once, when the views are imported, so looked up once per process."""
    return tuple(
        (runtime.limit, _KEYS[runtime.key_func], runtime.scope_for(endpoint, method))
        for runtime in sorted(limiter.limit_manager.decorated_limits(get_qualified_name(view)), key=lambda x: x.limit)
    )


def admit(view, endpoint, method, user_id, webinar_id):
    """Count a request to `view` (the view function flask-limiter decorated) answered without
    Flask (the fast lane, eventflow/fastlane.py) in the very counters flask-limiter keeps for it: the
    limits registered on `view`, in flask-limiter's order, each under flask-limiter's storage key
    (prefix, key function's key, scope). Only when none is exhausted: a request over a limit is
    left uncounted here, for flask-limiter to count and refuse (its 429), so that it is counted
    once. Another thread may hit a limit between the test and the hit: at worst that one request
    is counted in both lanes. False when the request must go to flask-limiter."""
    counters = [
        (item, (KEY_PREFIX, key(user_id, webinar_id), scope))
        for item, key, scope in _registered(view, endpoint, method)
    ]
    if not counters or not all(limiter.limiter.test(item, *key) for item, key in counters):
        return False
    return all(limiter.limiter.hit(item, *key) for item, key in counters)


def init_app(app, redis_client):
    app.config["RATELIMIT_STORAGE_URI"] = f"{SCHEME}://"
    app.config["RATELIMIT_STORAGE_OPTIONS"] = {"redis_client": redis_client}
    limiter.init_app(app)

    @app.errorhandler(RateLimitExceeded)
    def too_many_requests(exc):
        # Only a refused request pays for reading when its window ends.
        retry_after = max(1, math.ceil(limiter.current_limit.reset_at - time.time())) if limiter.current_limit else 60
        return errors.json_error(429, f"rate limit exceeded: {exc.description}", {"Retry-After": str(retry_after)})
