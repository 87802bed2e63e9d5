"""Who the caller is allowed to be, and in which tenant: the request's context for the policies.

Participants get their tenant from the webinar in the URL; admins from their token. Another
tenant's webinar is answered 404, as if it did not exist; a role that may not use the endpoint
at all gets 403.
"""

import json
import logging
import time
import uuid
from dataclasses import asdict, dataclass
from datetime import datetime

import redis
from flask import current_app, g
from flask_smorest import abort

from eventflow import db
from eventflow.auth import PARTICIPANT, current_principal
from eventflow.redis_client import get_redis

log = logging.getLogger(__name__)

LOOKUP_WEBINAR = "select * from app.webinar_tenant(%s)"
# A process keeps what it looked up this long, so the hottest requests skip even Redis.
LOCAL_CACHE_SECONDS = 5.0
# An id that names no webinar is remembered briefly, so guessing ids cannot hammer PostgreSQL.
MISSING_CACHE_SECONDS = 5


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


def init_app(app):
    # webinar id -> (expires at, Webinar or None), per process
    app.extensions["eventflow.webinar_cache"] = {}


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
    settings = current_app.extensions["eventflow.settings"]
    ttl = settings.webinar_cache_seconds if webinar else MISSING_CACHE_SECONDS
    try:
        get_redis().set(_redis_key(webinar_id), webinar.to_json() if webinar else b"", ex=ttl)
    except redis.RedisError:
        log.warning("Redis unavailable; webinar %s not cached", webinar_id)


def lookup_webinar(webinar_id):
    """The webinar's tenant facts, from the process, then Redis, then PostgreSQL; None if none."""
    local_cache = current_app.extensions["eventflow.webinar_cache"]
    now = time.monotonic()
    hit = local_cache.get(webinar_id)
    if hit and hit[0] > now:
        return hit[1]
    webinar, found = _read_redis(webinar_id)
    if not found:
        with db.transaction(db.get_pool(), db.NO_CONTEXT) as conn:
            row = conn.execute(LOOKUP_WEBINAR, (webinar_id,)).fetchone()
        webinar = Webinar(**row) if row else None
        _write_redis(webinar_id, webinar)
    local_cache[webinar_id] = (now + LOCAL_CACHE_SECONDS, webinar)
    return webinar


def forget_webinar(webinar_id):
    current_app.extensions["eventflow.webinar_cache"].pop(webinar_id, None)
    try:
        get_redis().delete(_redis_key(webinar_id))
    except redis.RedisError:
        log.warning("Redis unavailable; webinar %s stays cached until it expires", webinar_id)


def _admin_sees(principal, webinar):
    return (principal.client_id is not None and principal.client_id == webinar.client_id) or (
        principal.agency_id is not None and principal.agency_id == webinar.agency_id
    )


def require_role(roles):
    principal = current_principal()
    if principal.role not in roles:
        abort(403, message=f"this endpoint is not for a {principal.role}")
    return principal


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


def enter_webinar(webinar_id, roles):
    """Admit the caller into one webinar: 403 for a role not in `roles`, 404 for a webinar
    that does not exist or belongs to another tenant. Returns (principal, webinar)."""
    principal = require_role(roles)
    webinar = lookup_webinar(webinar_id)
    if webinar is None or (principal.role != PARTICIPANT and not _admin_sees(principal, webinar)):
        abort(404, message="webinar not found")
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
