"""The admin dashboard and the attendance export (admins only; another tenant's webinar 404)."""

from flask import Response, g, request
from flask.views import MethodView
from flask_smorest import Blueprint, abort

from eventflow import config, db, limits
from eventflow.apidoc import document_errors
from eventflow.auth import ADMINS, require_token
from eventflow.stats import cache, export, sections
from eventflow.stats.schemas import (
    SECTIONS,
    SECTIONS_LIST,
    AttendanceArgsSchema,
    AttendanceSchema,
    StatsArgsSchema,
    StatsSchema,
)
from eventflow.tenancy import admits, enter_webinar

ATTENDANCE_200 = "JSON, or CSV (text/csv) with the same columns"
blp = Blueprint("stats", __name__, url_prefix="/api/webinars", description="Admin dashboard and attendance")
blp.before_request(require_token)
# The dashboard changes every few seconds: a client may keep it, but must ask again each time.
CACHE_CONTROL = "private, no-cache"


@blp.record_once
def _bind_cache(state):
    cache.init_app(state.app)


def _requested_sections(raw):
    if raw is None:
        return SECTIONS
    wanted = [name.strip() for name in raw.split(",") if name.strip()]
    unknown = sorted(set(wanted) - set(SECTIONS))
    if unknown or not SECTIONS_LIST.fullmatch(raw):
        # Anything the documented pattern refuses (a tab, a newline) is refused here too.
        unknown = unknown or [repr(raw)]
        abort(400, message=f"unknown sections: {', '.join(unknown)}; known: {', '.join(SECTIONS)}")
    return tuple(name for name in SECTIONS if name in wanted) or SECTIONS


@blp.route("/<uuid:webinar_id>/stats")
class Stats(MethodView):
    @limits.per_caller(limits.DASHBOARD_STATS)
    @admits(ADMINS)
    @blp.arguments(StatsArgsSchema, location="query")
    @blp.response(200, StatsSchema)
    @blp.alt_response(304, description="Unchanged since the ETag given in If-None-Match")
    @document_errors(blp, 400, 401, 403, 404, 422, 429, 503)
    def get(self, args, webinar_id):
        """The dashboard: the requested sections (all by default), each defined in its schema;
        an unknown section is a 400. Shared by the webinar's admins and rebuilt at most every
        EVENTFLOW_STATS_CACHE_SECONDS (default 5), with an ETag."""
        enter_webinar(webinar_id, ADMINS)
        wanted = _requested_sections(args["sections"])
        answer = cache.dashboard(webinar_id, wanted, lambda conn: _read_stats(conn, webinar_id, wanted))
        headers = {"ETag": f'W/"{answer.version}"', "Cache-Control": CACHE_CONTROL}
        if request.if_none_match.contains_weak(answer.version):
            return Response(status=304, headers=headers)
        return Response(answer.document, mimetype="application/json", headers=headers)


@blp.route("/<uuid:webinar_id>/attendance")
class Attendance(MethodView):
    @limits.per_caller(limits.DASHBOARD_STATS)
    @admits(ADMINS)
    @blp.arguments(AttendanceArgsSchema, location="query")
    @blp.response(200, AttendanceSchema, description=ATTENDANCE_200)
    @blp.alt_response(200, schema={"type": "string"}, content_type="text/csv", description=ATTENDANCE_200)
    @document_errors(blp, 401, 403, 404, 422, 429, 503)
    def get(self, args, webinar_id):
        """One row per registrant or viewer, streamed: JSON, or CSV with `Accept: text/csv` or `?format=csv`."""
        enter_webinar(webinar_id, ADMINS)
        settings = config.current()
        as_csv = _wants_csv(args["format"])
        rows = export.rows(db.get_pool(), g.db_context, webinar_id, settings.attended_share)
        if as_csv:
            return Response(
                export.as_csv(rows),
                mimetype="text/csv",
                headers={"Content-Disposition": f'attachment; filename="attendance-{webinar_id}.csv"'},
            )
        return Response(export.as_json(rows, webinar_id, settings.attended_share), mimetype="application/json")


def _read_stats(conn, webinar_id, wanted):
    settings = config.current()
    stats = {"webinar_id": webinar_id}
    for name in wanted:
        stats[name] = sections.READERS[name](conn, webinar_id, settings)
    return stats


def _wants_csv(format_arg):
    if format_arg:
        return format_arg == "csv"
    return request.accept_mimetypes.best_match(["application/json", "text/csv"]) == "text/csv"
