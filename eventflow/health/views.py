"""Liveness and readiness for the load balancer and ops."""

import psycopg
import redis
from flask import current_app
from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import Schema, fields
from psycopg_pool import PoolTimeout

from eventflow import breaker, db
from eventflow.redis_client import get_redis

blp = Blueprint("health", __name__, description="Liveness and readiness probes")
NO_AUTH = {"security": []}


class HealthSchema(Schema):
    status = fields.String(required=True, metadata={"description": "ok, or unavailable"})
    checks = fields.Dict(keys=fields.String(), values=fields.String())


# Every connection is in use: the database answers this process, which has all the work it may
# give it. Ready all the same: taking it out of rotation would only pile its load on the others.
BUSY = "busy"


@blp.route("/healthz")
class Liveness(MethodView):
    @blp.response(200, HealthSchema)
    @blp.doc(**NO_AUTH)
    def get(self):
        """The process is up (no dependency is checked)."""
        return {"status": "ok", "checks": {}}


def _check_database():
    try:
        with db.transaction(db.get_pool(), db.NO_CONTEXT) as conn:
            conn.execute("select 1")
        return "ok"
    except db.Overloaded:
        return BUSY
    except (psycopg.Error, PoolTimeout) as exc:
        return f"unavailable: {exc.__class__.__name__}"


def _check_redis():
    try:
        get_redis().ping()
        return "ok"
    except redis.RedisError as exc:
        return f"unavailable: {exc.__class__.__name__}"


@blp.route("/readyz")
class Readiness(MethodView):
    @blp.response(200, HealthSchema)
    @blp.alt_response(503, schema=HealthSchema, description="A dependency is unreachable")
    @blp.doc(**NO_AUTH)
    def get(self):
        """PostgreSQL and Redis both answer. `poll_breaker` (closed, open, half_open) is shown,
        not judged: an open breaker is this process protecting the database, not a fault of its own."""
        checks = {"database": _check_database(), "redis": _check_redis()}
        ready = all(value in ("ok", BUSY) for value in checks.values())
        checks["poll_breaker"] = breaker.describe(current_app)
        return {"status": "ok" if ready else "unavailable", "checks": checks}, 200 if ready else 503
