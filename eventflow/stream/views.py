"""GET /api/webinars/<id>/events, the live stream (text/event-stream), and the tickets browsers
open it with. The stream is served by its own process type (README: "The live stream"), a
gunicorn gevent worker; elsewhere it answers 503 and clients keep polling.

Events (each `data:` is JSON): `message` and `question` (a changed row, as the caller's poll
gives it), `removed` ({feed, ids}: rows that left the caller's view), `access` (the caller's
stats/access answer when it changes, at most once per 5 s), `superseded` (a newer session of the
caller took over; the stream ends), `expired` (the token expired; the stream ends). Every `id:`
is a cursor to resume from (Last-Event-ID, or ?after=); a comment every 20 s keeps it alive.
"""

import redis
from flask import Response, current_app, g, request
from flask.views import MethodView
from flask_smorest import Blueprint, abort

from eventflow import errors, limits
from eventflow.apidoc import PARTICIPANT_ACCESS_RULES, document_errors
from eventflow.auth import EVERYONE, InvalidToken, bearer_token, current_principal
from eventflow.stream import events, hub, tickets
from eventflow.stream.schemas import EventArgsSchema, TicketSchema
from eventflow.tenancy import enter_webinar

blp = Blueprint(
    "stream", __name__, url_prefix="/api/webinars", description=f"The live stream. {PARTICIPANT_ACCESS_RULES}"
)
LAST_EVENT_ID = "Last-Event-ID"
STREAM_HEADERS = {"Cache-Control": "no-store", "X-Accel-Buffering": "no"}


@blp.before_request
def authenticate():
    """A bearer token, or (the stream only) a ticket redeemed once; 401 otherwise."""
    ticket = request.args.get("ticket")
    if request.method == "GET" and ticket and "Authorization" not in request.headers:
        try:
            token = tickets.redeem(ticket, request.view_args.get("webinar_id"))
        except redis.RedisError:
            return errors.service_unavailable("tickets cannot be checked now; poll meanwhile")
        if token is None:
            abort(401, message="the ticket is unknown, spent or expired: ask for another")
        try:
            g.principal = current_app.extensions["eventflow.verified_tokens"].principal_of(token)
        except InvalidToken as exc:
            abort(401, message=f"invalid token: {exc}")
    current_principal()


def _start_cursors(after):
    """Where the stream starts: Last-Event-ID (an EventSource's reconnect), else ?after=, else
    the oldest change."""
    given = request.headers.get(LAST_EVENT_ID) or after
    if given is None:
        return dict.fromkeys(events.FEEDS, 0)
    cursors = events.parse_cursor(given)
    if cursors is None:
        abort(
            422, message="Last-Event-ID is not a stream cursor", errors={"headers": {LAST_EVENT_ID: ["not a cursor"]}}
        )
    return cursors


@blp.route("/<uuid:webinar_id>/events")
class Events(MethodView):
    @blp.arguments(EventArgsSchema, location="query")
    @blp.response(200, content_type="text/event-stream", description="The events, until the stream ends")
    @document_errors(blp, 401, 404, 422, 503)
    def get(self, args, webinar_id):
        """The caller's live changes of the webinar's chat, Q&A and live list, as Server-Sent
        Events; resumable from any event's id."""
        principal, webinar = enter_webinar(webinar_id, EVERYONE)
        cursors = _start_cursors(args["after"])
        streams = hub.current()
        if streams is None:
            return errors.service_unavailable("the live stream is served by the stream process; poll meanwhile")
        if not streams.admits_another():
            return errors.service_unavailable("this stream process is full or restarting; poll meanwhile")
        subscriber = hub.Subscriber(principal, webinar, g.db_context, cursors, args["session_id"])
        streams.subscribe(subscriber)
        return Response(subscriber.chunks(streams), mimetype="text/event-stream", headers=STREAM_HEADERS)


@blp.route("/<uuid:webinar_id>/events/tickets")
class Tickets(MethodView):
    @limits.per_caller(limits.STREAM_TICKET)
    @blp.response(201, TicketSchema)
    @document_errors(blp, 401, 404, 429, 503)
    def post(self, webinar_id):
        """A one-time ticket to open the stream with (?ticket=): an EventSource cannot send the
        Authorization header, and a token in a URL would end up in logs."""
        enter_webinar(webinar_id, EVERYONE)
        token = bearer_token(request.headers.get("Authorization", ""))
        try:
            ticket = tickets.issue(token, webinar_id)
        except redis.RedisError:
            return errors.service_unavailable("no tickets can be issued now; poll meanwhile")
        return {"ticket": ticket, "expires_in": tickets.TICKET_SECONDS}, 201
