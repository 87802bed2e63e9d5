"""Who the caller is allowed to be, and in which tenant: the request's context for the policies.

Participants get their tenant from the webinar in the URL; admins from their token. Another
tenant's webinar is answered 404, as if it did not exist; a role that may not use the endpoint
at all gets 403.

The webinar access rules for participants (contract §5, "Webinar states"): a webinar is theirs
to see once it is announced (not `draft` or `cancelled`: those are a 404, as if they did not
exist), and, if their token names a webinar (`webinar_id` claim), only that one; an `ended`
webinar can still be read but takes no participant writes other than access/exit (409). A
status change reaches a process through the webinar cache below: within
EVENTFLOW_WEBINAR_CACHE_SECONDS (Redis) plus LOCAL_CACHE_SECONDS (the process).
"""

import functools
import json
import logging
import threading
import time
import uuid
from dataclasses import asdict, dataclass
from datetime import datetime

import redis
from flask import current_app, g
from flask_smorest import abort

from eventflow import config, db, metrics
from eventflow.auth import PARTICIPANT, current_principal
from eventflow.redis_client import get_redis

log = logging.getLogger(__name__)

LOOKUP_WEBINAR = "select * from app.webinar_tenant(%s)"
# A process keeps a webinar it looked up this long, so the hottest requests skip even Redis ...
LOCAL_CACHE_SECONDS = 5.0
# ... and at most this many: far more than the webinars live at once, small enough for any worker.
LOCAL_CACHE_ENTRIES = 10_000
# An id that names no webinar is remembered briefly (in Redis only: random ids must not fill a
# process's memory), so guessing ids cannot hammer PostgreSQL.
MISSING_CACHE_SECONDS = 5
CACHE_NAME = "webinar"  # its label in eventflow_cache_hits_total / _misses_total
# Webinar states a participant cannot see (404) and those in which they may not write (409).
HIDDEN_FROM_PARTICIPANTS = frozenset({"draft", "cancelled"})
CLOSED_TO_PARTICIPANT_WRITES = frozenset({"ended"})


@dataclass(frozen=True)
class Webinar:
    id: uuid.UUID
    client_id: uuid.UUID
    agency_id: uuid.UUID
    status: str
    starts_at: datetime
    ends_at: datetime

    def to_json(self):
        return json.dumps({k: str(v) for k, v in asdict(self).items()})

    @classmethod
    def from_json(cls, text):
        raw = json.loads(text)
        return cls(
            id=uuid.UUID(raw["id"]),
            client_id=uuid.UUID(raw["client_id"]),
            agency_id=uuid.UUID(raw["agency_id"]),
            status=raw["status"],
            starts_at=datetime.fromisoformat(raw["starts_at"]),
            ends_at=datetime.fromisoformat(raw["ends_at"]),
        )


class LocalWebinars:
    """The webinars this process looked up, each kept LOCAL_CACHE_SECONDS; when full, the oldest
    entry makes room. Only webinars that exist are kept."""

    def __init__(self, max_entries=LOCAL_CACHE_ENTRIES):
        self._entries: dict[uuid.UUID, tuple[float, Webinar]] = {}
        self._max_entries = max_entries
        self._lock = threading.Lock()  # writers only: a read is one dict lookup

    def __len__(self):
        return len(self._entries)

    def get(self, webinar_id):
        hit = self._entries.get(webinar_id)
        return hit[1] if hit is not None and hit[0] > time.monotonic() else None

    def put(self, webinar_id, webinar):
        with self._lock:
            self._entries.pop(webinar_id, None)  # re-inserted last: the oldest entry is first
            while len(self._entries) >= self._max_entries:
                del self._entries[next(iter(self._entries))]
            self._entries[webinar_id] = (time.monotonic() + LOCAL_CACHE_SECONDS, webinar)


def init_app(app):
    app.extensions["eventflow.webinar_cache"] = LocalWebinars()


def _redis_key(webinar_id):
    return f"ef:webinar:{webinar_id}"


def _read_redis(webinar_id):
    try:
        cached = get_redis().get(_redis_key(webinar_id))
    except redis.RedisError:
        return None, False
    if cached is None:
        return None, False
    return (None if cached == b"" else Webinar.from_json(cached)), True


def _write_redis(webinar_id, webinar):
    ttl = config.current().webinar_cache_seconds if webinar else MISSING_CACHE_SECONDS
    try:
        get_redis().set(_redis_key(webinar_id), webinar.to_json() if webinar else b"", ex=ttl)
    except redis.RedisError:
        log.warning("Redis unavailable; webinar %s not cached", webinar_id)


def lookup_webinar(webinar_id):
    """The webinar's tenant facts, from the process, then Redis, then PostgreSQL; None if none."""
    local_cache = current_app.extensions["eventflow.webinar_cache"]
    webinar = local_cache.get(webinar_id)
    if webinar is not None:
        metrics.CACHE_HITS.labels(CACHE_NAME).inc()
        return webinar
    webinar, found = _read_redis(webinar_id)
    if found:
        metrics.CACHE_HITS.labels(CACHE_NAME).inc()
    else:
        metrics.CACHE_MISSES.labels(CACHE_NAME).inc()
        with db.transaction(db.get_pool(), db.NO_CONTEXT) as conn:
            row = conn.execute(LOOKUP_WEBINAR, (webinar_id,)).fetchone()
        webinar = Webinar(**row) if row else None
        _write_redis(webinar_id, webinar)
    if webinar is not None:
        local_cache.put(webinar_id, webinar)
    return webinar


def _admin_sees(principal, webinar):
    return (principal.client_id is not None and principal.client_id == webinar.client_id) or (
        principal.agency_id is not None and principal.agency_id == webinar.agency_id
    )


def _participant_sees(principal, webinar):
    return webinar.status not in HIDDEN_FROM_PARTICIPANTS and principal.webinar_id in (None, webinar.id)


def sees(principal, webinar):
    """Whether the webinar exists for the caller: an admin's tenant's, or an announced one a
    participant's token does not rule out. The Flask views and the fast lane both ask this."""
    return _participant_sees(principal, webinar) if principal.role == PARTICIPANT else _admin_sees(principal, webinar)


def require_role(roles):
    principal = current_principal()
    if principal.role not in roles:
        abort(403, message=f"this endpoint is not for a {principal.role}")
    return principal


def admits(roles):
    """Decorator of a view that only `roles` may use: a role not among them gets 403 before the
    query or body is parsed (so place it above `@blp.arguments`), never a 422 about input it may
    not send at all. Which webinar (404) is still the view's to check, with enter_webinar."""

    def decorate(view):
        @functools.wraps(view)
        def admitted(*args, **kwargs):
            require_role(roles)
            return view(*args, **kwargs)

        return admitted

    return decorate


def enter_tenant(roles):
    """Admit the caller if its role may use the endpoint; its token names its tenant."""
    principal = require_role(roles)
    g.db_context = db.RequestContext(
        user_id=principal.user_id,
        role=principal.role,
        client_id=principal.client_id,
        agency_id=principal.agency_id,
    )
    return principal


def enter_webinar(webinar_id, roles, writes=False):
    """Admit the caller into one webinar: 403 for a role not in `roles`, 404 for a webinar
    that does not exist for the caller (see `sees`), 409 for a participant who `writes` into a
    webinar that has ended. Returns (principal, webinar)."""
    principal = require_role(roles)
    webinar = lookup_webinar(webinar_id)
    if webinar is None or not sees(principal, webinar):
        abort(404, message="webinar not found")
    if writes and principal.role == PARTICIPANT and webinar.status in CLOSED_TO_PARTICIPANT_WRITES:
        abort(409, message=f"the webinar has {webinar.status}: participants may only exit it")
    if principal.role == PARTICIPANT:
        g.db_context = db.RequestContext(
            user_id=principal.user_id,
            role=PARTICIPANT,
            client_id=webinar.client_id,
            agency_id=webinar.agency_id,
            webinar_id=webinar.id,
        )
    else:
        enter_tenant(roles)
    return principal, webinar
