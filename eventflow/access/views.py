"""The participant hot path (contract §5): register, access/track, presence/ping, access/exit
and the stats/access poll."""

import psycopg
from flask import Response, request
from flask.views import MethodView
from flask_smorest import Blueprint, abort

from eventflow import config, db, limits
from eventflow.access import poll, queries
from eventflow.access.schemas import (
    ExitSchema,
    PingSchema,
    RegisterBodySchema,
    RegistrationSchema,
    SessionBodySchema,
    StatsAccessArgsSchema,
    StatsAccessSchema,
    TrackBodySchema,
    TrackSchema,
)
from eventflow.access.snapshot import snapshots
from eventflow.apidoc import PARTICIPANT_ACCESS_RULES, document_errors
from eventflow.auth import EVERYONE, PARTICIPANT, PARTICIPANTS, require_token
from eventflow.tenancy import admits, enter_webinar

blp = Blueprint(
    "access", __name__, url_prefix="/api/webinars", description=f"The participant hot path. {PARTICIPANT_ACCESS_RULES}"
)
# Every field of these bodies is optional, and clients have always been free to send none.
OPTIONAL_BODY = "Optional: no body is the same as an empty object"

blp.before_request(require_token)


@blp.route("/<uuid:webinar_id>/register")
class Register(MethodView):
    @limits.per_caller(limits.REGISTER)
    @admits(PARTICIPANTS)
    @blp.arguments(RegisterBodySchema, required=False, description=OPTIONAL_BODY)
    @blp.response(201, RegistrationSchema, description="Registered now")
    @blp.alt_response(200, schema=RegistrationSchema, description="Already registered")
    @blp.alt_response(422, description="Invalid body, or a campaign link of another webinar")
    @document_errors(blp, 401, 403, 404, 409, 429, 503)
    def post(self, body, webinar_id):
        """Register the caller once; repeats are harmless (200 instead of 201)."""
        principal, _ = enter_webinar(webinar_id, PARTICIPANTS, writes=True)
        params = {"display_name": principal.name, "campaign_link_id": body["campaign_link_id"]}
        try:
            created = db.connection().execute(queries.REGISTER, params).fetchone()["created"]
        except psycopg.errors.ForeignKeyViolation:
            abort(422, message="unknown campaign link for this webinar", errors={"json": {"campaign_link_id": []}})
        return {"registered": True, "created": created}, 201 if created else 200


@blp.route("/<uuid:webinar_id>/access/track")
class Track(MethodView):
    @limits.per_caller(limits.ACCESS_TRACK)
    @admits(PARTICIPANTS)
    @blp.arguments(TrackBodySchema, required=False, description=OPTIONAL_BODY)
    @blp.response(200, TrackSchema, description="The given session was open and is refreshed")
    @blp.alt_response(201, schema=TrackSchema, description="A new session was opened")
    @document_errors(blp, 401, 403, 404, 422, 409, 429, 503)
    def post(self, body, webinar_id):
        """On entry (no session_id): open a session, register if needed, mark live. Every 5 min
        after (with session_id): refresh it. A session_id that is not open (closed by exit or the
        sweep, or unknown) opens a new session, whose id the client must use from then on."""
        principal, _ = enter_webinar(webinar_id, PARTICIPANTS, writes=True)
        params = {"session_id": body["session_id"], "display_name": principal.name, "user_agent": body["user_agent"]}
        row = db.connection().execute(queries.TRACK, params).fetchone()
        return row, 201 if row["opened"] else 200


@blp.route("/<uuid:webinar_id>/presence/ping")
class Ping(MethodView):
    @limits.per_caller(limits.PRESENCE_PING)
    @admits(PARTICIPANTS)
    @blp.arguments(SessionBodySchema, required=False, description=OPTIONAL_BODY)
    @blp.response(200, PingSchema)
    @document_errors(blp, 401, 403, 404, 422, 409, 429, 503)
    def post(self, body, webinar_id):
        """Every 120 s ± 10 s: mark the caller live and, with session_id, heartbeat that session.
        A viewer who never tracked is marked live all the same (no session is opened)."""
        principal, _ = enter_webinar(webinar_id, PARTICIPANTS, writes=True)
        params = {"session_id": body["session_id"], "display_name": principal.name}
        refreshed = db.connection().execute(queries.PING, params).fetchone()["session_refreshed"]
        return {"live": True, "session_refreshed": refreshed}


@blp.route("/<uuid:webinar_id>/access/exit")
class Exit(MethodView):
    @limits.per_caller(limits.ACCESS_EXIT)
    @admits(PARTICIPANTS)
    @blp.arguments(SessionBodySchema, required=False, description=OPTIONAL_BODY)
    @blp.response(200, ExitSchema)
    @document_errors(blp, 401, 403, 404, 422, 429, 503)
    def post(self, body, webinar_id):
        """Close the session (all the caller's open sessions without session_id) and leave the
        live list; repeats are harmless."""
        enter_webinar(webinar_id, PARTICIPANTS)
        return db.connection().execute(queries.EXIT, {"session_id": body["session_id"]}).fetchone()


@blp.route("/<uuid:webinar_id>/stats/access")
class StatsAccess(MethodView):
    @limits.per_caller(limits.STATS_ACCESS)
    @blp.arguments(StatsAccessArgsSchema, location="query")
    @blp.response(200, StatsAccessSchema)
    @blp.alt_response(304, description="Unchanged since the ETag given in If-None-Match")
    @document_errors(blp, 401, 404, 422, 429, 503)
    def get(self, args, webinar_id):
        """Who is connected now, from a per-webinar snapshot at most about a second old.
        Participants get the count and a bounded slice (their own entry first); admins all, paged."""
        principal, webinar = enter_webinar(webinar_id, EVERYONE)
        settings = config.current()

        def load_document():
            params = {"webinar_id": webinar.id, "timeout": settings.presence_timeout_seconds}
            row = db.connection().execute(queries.LIVE_LIST, params).fetchone()
            return row["document"], row["version"]

        snapshot = snapshots().get(str(webinar.id), load_document)
        known = request.if_none_match
        if principal.role == PARTICIPANT:
            viewer_limit = settings.participant_viewer_limit
            answer = poll.for_participant(snapshot, principal.user_id, args["session_id"], viewer_limit, known)
        else:
            answer = poll.for_admin(snapshot, args["offset"], args["limit"], known)
        status, headers, payload = answer
        return Response(payload or None, status=status, headers=headers)
