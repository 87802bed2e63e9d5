"""Webinars an admin may see (contract §1), and the one webinar a participant is in."""

from flask.views import MethodView
from flask_smorest import Blueprint, abort

from eventflow import db, limits
from eventflow.apidoc import PARTICIPANT_ACCESS_RULES, document_errors
from eventflow.auth import ADMINS, EVERYONE, require_token
from eventflow.limits import limiter
from eventflow.tenancy import admits, enter_tenant, enter_webinar
from eventflow.webinars import queries
from eventflow.webinars.schemas import WebinarDetailSchema, WebinarListArgsSchema, WebinarSchema

blp = Blueprint("webinars", __name__, url_prefix="/api/webinars", description=f"Webinars. {PARTICIPANT_ACCESS_RULES}")
blp.before_request(require_token)


@blp.route("")
class Webinars(MethodView):
    @admits(ADMINS)
    @limiter.limit(limits.WEBINARS)
    @blp.arguments(WebinarListArgsSchema, location="query")
    @blp.response(200, WebinarSchema(many=True))
    @document_errors(blp, 401, 403, 422, 429, 503)
    def get(self, args):
        """The webinars in the caller's scope: a client's, or every client's of an agency."""
        enter_tenant(ADMINS)
        return db.connection().execute(queries.LIST_WEBINARS, args).fetchall()


@blp.route("/<uuid:webinar_id>")
class Webinar(MethodView):
    @limits.per_caller(limits.WEBINARS)
    @blp.response(200, WebinarDetailSchema)
    @document_errors(blp, 401, 404, 429, 503)
    def get(self, webinar_id):
        """One webinar: one of an admin's tenant, or, to a participant, an announced one (a draft
        or cancelled webinar is a 404), without whose it is (no client_id or agency_id)."""
        principal, _ = enter_webinar(webinar_id, EVERYONE)
        row = db.connection().execute(queries.GET_WEBINAR, {"webinar_id": webinar_id}).fetchone()
        if row is None:
            abort(404, message="webinar not found")
        if principal.role not in ADMINS:
            del row["client_id"], row["agency_id"]
        return row
