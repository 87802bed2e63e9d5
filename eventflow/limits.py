"""Rate limits (flask-limiter on the shared Redis): per caller and webinar on each endpoint, and
one budget per caller across all webinars on every endpoint of the API (`@limits.across_webinars`).

Each limit is sized from the seed's cadence with generous headroom, so a well-behaved client
(even with a second tab and a reload or two) never sees a 429 while a looping one does.
When Redis is unreachable the limits fall back to per-process memory: they stay roughly in
force and the hot path keeps answering (fail open towards availability, not towards abuse).
"""

import math
import time

from flask import request
from flask_limiter import Limiter, RateLimitExceeded
from werkzeug.exceptions import HTTPException

from eventflow import errors
from eventflow.auth import ADMINS, current_principal

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

# Per caller across all webinars, on every endpoint. The limits above count per webinar, so a
# caller spreading requests over many webinar ids (random ones each cost a lookup in PostgreSQL)
# would dodge them all. A viewer is in one webinar at a time and needs about 55 requests a minute
# there (12 stats/access + 0.5 ping + 30 message polls + 12 question polls, plus a few writes):
# 600 is ten times that. Admins may follow several webinars at once (about 55 a minute each
# while realtime is down, plus the dashboard): 3000 covers fifty.
PARTICIPANT_ACROSS_WEBINARS = "600 per minute"
ADMIN_ACROSS_WEBINARS = "3000 per minute"


def _principal_or_none():
    # Never raise inside a key or limit function: flask-limiter would take its storage for dead.
    # A request without a valid token is limited by address, and answered 401 by its blueprint.
    try:
        return current_principal()
    except HTTPException:
        return None


def _caller():
    principal = _principal_or_none()
    return principal.user_id if principal else f"unauthenticated@{request.remote_addr}"


def caller_and_webinar():
    """The key of the per-endpoint limits: who is calling (from the verified token) in which webinar."""
    return f"{_caller()}:{(request.view_args or {}).get('webinar_id', '-')}"


def caller_across_webinars():
    """The key of the budget across webinars: the caller alone."""
    return f"{_caller()}:*"


def _across_webinars_budget():
    principal = _principal_or_none()
    return ADMIN_ACROSS_WEBINARS if principal and principal.role in ADMINS else PARTICIPANT_ACROSS_WEBINARS


limiter = Limiter(
    key_func=caller_and_webinar,
    strategy="fixed-window",  # one INCR per request: the cheapest check Redis can do
    # No X-RateLimit-* headers: they cost a second Redis read on every request. A 429 still
    # says when to come back (Retry-After, below).
    headers_enabled=False,
    swallow_errors=True,
    in_memory_fallback_enabled=True,
    key_prefix="ef:limit",
)
# Every view of the API carries this decorator beside its own limit: one counter per caller,
# shared by all endpoints ("across-webinars" is its scope), checked together with the view's.
across_webinars = limiter.shared_limit(
    _across_webinars_budget, scope="across-webinars", key_func=caller_across_webinars
)


def init_app(app, redis_client):
    app.config["RATELIMIT_STORAGE_URI"] = "redis://"
    app.config["RATELIMIT_STORAGE_OPTIONS"] = {"connection_pool": redis_client.connection_pool}
    limiter.init_app(app)

    @app.errorhandler(RateLimitExceeded)
    def too_many_requests(exc):
        # Only a refused request pays for reading when its window ends.
        retry_after = max(1, math.ceil(limiter.current_limit.reset_at - time.time())) if limiter.current_limit else 60
        return errors.json_error(429, f"rate limit exceeded: {exc.description}", {"Retry-After": str(retry_after)})
