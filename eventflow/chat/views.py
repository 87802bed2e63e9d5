"""Chat and Q&A (contract §5): the write paths, moderation, and the fallback polls.

While the realtime channel is down every viewer polls `messages` every 2 s and `questions` every
5 s. A poll whose cursor is current is answered from the Redis marker with no database work
(feed.py), even while the poll breaker is open; one inside the feed's shared change window from
there (window.py); only one that is older, or a caller whose own rows changed, reads one page in
one statement, behind the breaker (breaker.py). Every answer says in `Poll-Interval` how many
seconds to wait before the next. A write raises the marker once its transaction committed.
"""

from flask import current_app
from flask.views import MethodView
from flask_smorest import Blueprint, abort

from eventflow import breaker, db, limits
from eventflow.apidoc import PARTICIPANT_ACCESS_RULES, document_errors
from eventflow.auth import ADMINS, EVERYONE, PARTICIPANTS, require_token
from eventflow.chat import feed, queries, window
from eventflow.chat.schemas import (
    MessagePageSchema,
    MessageSchema,
    ModerateMessageSchema,
    ModerateQuestionSchema,
    NewMessageSchema,
    NewQuestionSchema,
    PollArgsSchema,
    QuestionPageSchema,
    QuestionPollArgsSchema,
    QuestionSchema,
    UpvoteSchema,
)
from eventflow.tenancy import admits, enter_webinar

blp = Blueprint("chat", __name__, url_prefix="/api/webinars", description=f"Chat and Q&A. {PARTICIPANT_ACCESS_RULES}")

blp.before_request(require_token)
ROW_ID = "int(max=9223372036854775807)"  # a bigint; larger is 404, not a database error


@blp.record_once
def _bind_extensions(state):
    breaker.init_app(state.app)
    feed.init_app(state.app)
    window.init_app(state.app)


def _params(principal, webinar_id, **more):
    return {"webinar_id": webinar_id, "user_id": principal.user_id, "admin": principal.role in ADMINS} | more


def _new_row(principal, webinar, **more):
    """Parameters of an insert: the row's tenant comes from the webinar, its author from the token."""
    return _params(
        principal,
        webinar.id,
        client_id=webinar.client_id,
        agency_id=webinar.agency_id,
        role=principal.role,
        display_name=principal.name,
        **more,
    )


def _poll(feed_name, webinar_id, args, query, status=None):
    """One poll of a feed: (page, status, headers). Current cursor: no database work at all, and
    no breaker either; a cursor inside the feed's change window: its page from there (window.py);
    only the read of a page from PostgreSQL is behind the breaker."""
    after = int(args["after"])
    principal, webinar = enter_webinar(webinar_id, EVERYONE)
    marker, redis_ok = feed.read_marker(webinar_id, feed_name)
    if marker == after:
        return feed.empty_page(feed_name, after), 200, feed.poll_headers(feed_name, redis_ok)
    if redis_ok:
        page = window.windows().page_for(principal, webinar, feed_name, marker, after, args["limit"], status)
        if page is not None:
            return page, 200, feed.poll_headers(feed_name, redis_ok)
    params = _params(principal, webinar_id, feed=feed_name, after=after, limit=args["limit"], status=status)
    try:
        with current_app.extensions[breaker.EXTENSION_KEY].guard() as probe:
            rows = db.connection().execute(query, params).fetchall()
            probe.reached_database()
    except breaker.BreakerOpen as exc:
        breaker.refuse(exc)
    head = rows[0]["head"]
    changes = [row for row in rows if row["seq"] is not None]
    next_cursor = changes[-1]["seq"] if len(changes) == args["limit"] else head
    if redis_ok and (marker is None or marker < head):
        feed.raise_marker(webinar_id, feed_name, head)
    page = {
        feed_name: [row for row in changes if not row["removed"]],
        "removed": [row["id"] for row in changes if row["removed"]],
        "next": str(next_cursor),
    }
    return page, 200, feed.poll_headers(feed_name, redis_ok)


def _written(webinar_id, feed_name, row, status=200):
    """Answer a write: 404 if no row was visible to write, else announce it once it committed
    (the marker must never run ahead of what a poll can read)."""
    if row is None:
        abort(404, message=f"{feed_name[:-1]} not found")
    db.after_commit(lambda: feed.raise_marker(webinar_id, feed_name, row["seq"]))
    return row, status


@blp.route("/<uuid:webinar_id>/messages")
class Messages(MethodView):
    @limits.per_caller(limits.MESSAGES_POLL)
    @blp.arguments(PollArgsSchema, location="query")
    @blp.response(200, MessagePageSchema, headers={"Poll-Interval": {"description": "seconds until the next poll"}})
    @document_errors(blp, 401, 404, 422, 429, 503)
    def get(self, args, webinar_id):
        """Messages after the cursor, oldest change first. Hidden messages are left out for
        participants (but their own), and reported in `removed` if hidden after the cursor."""
        return _poll(feed.MESSAGES, webinar_id, args, queries.POLL_MESSAGES)

    @limits.per_caller(limits.POST_MESSAGE)
    @blp.arguments(NewMessageSchema)
    @blp.response(201, MessageSchema)
    @document_errors(blp, 401, 404, 422, 409, 429, 503)
    def post(self, body, webinar_id):
        """Send a chat message, as the caller (the display name comes from the token)."""
        principal, webinar = enter_webinar(webinar_id, EVERYONE, writes=True)
        row = db.connection().execute(queries.POST_MESSAGE, _new_row(principal, webinar, body=body["body"])).fetchone()
        return _written(webinar_id, feed.MESSAGES, row, 201)


@blp.route(f"/<uuid:webinar_id>/messages/<{ROW_ID}:message_id>")
class Message(MethodView):
    @admits(ADMINS)
    @blp.arguments(ModerateMessageSchema)
    @blp.response(200, MessageSchema)
    @document_errors(blp, 401, 403, 404, 422, 429, 503)
    def patch(self, body, webinar_id, message_id):
        """Hide (or show again) a message: admins only."""
        principal, _ = enter_webinar(webinar_id, ADMINS)
        params = _params(principal, webinar_id, message_id=message_id, hidden=body["hidden"])
        return _written(webinar_id, feed.MESSAGES, db.connection().execute(queries.MODERATE_MESSAGE, params).fetchone())


@blp.route("/<uuid:webinar_id>/questions")
class Questions(MethodView):
    @limits.per_caller(limits.QUESTIONS_POLL)
    @blp.arguments(QuestionPollArgsSchema, location="query")
    @blp.response(200, QuestionPageSchema, headers={"Poll-Interval": {"description": "seconds until the next poll"}})
    @document_errors(blp, 401, 404, 422, 429, 503)
    def get(self, args, webinar_id):
        """Questions changed after the cursor, oldest change first, optionally of one status.
        Participants see their own questions and the answered public ones; admins see all."""
        return _poll(feed.QUESTIONS, webinar_id, args, queries.POLL_QUESTIONS, status=args["status"])

    @limits.per_caller(limits.POST_QUESTION)
    @admits(PARTICIPANTS)
    @blp.arguments(NewQuestionSchema)
    @blp.response(201, QuestionSchema)
    @document_errors(blp, 401, 403, 404, 422, 409, 429, 503)
    def post(self, body, webinar_id):
        """Ask a question: participants only."""
        principal, webinar = enter_webinar(webinar_id, PARTICIPANTS, writes=True)
        params = _new_row(principal, webinar, body=body["body"], is_public=body["is_public"])
        return _written(
            webinar_id, feed.QUESTIONS, db.connection().execute(queries.ASK_QUESTION, params).fetchone(), 201
        )


@blp.route(f"/<uuid:webinar_id>/questions/<{ROW_ID}:question_id>")
class Question(MethodView):
    @admits(ADMINS)
    @blp.arguments(ModerateQuestionSchema)
    @blp.response(200, QuestionSchema)
    @document_errors(blp, 401, 403, 404, 422, 429, 503)
    def patch(self, body, webinar_id, question_id):
        """Answer, hide or unhide, pin or unpin a question: admins only."""
        principal, _ = enter_webinar(webinar_id, ADMINS)
        params = _params(principal, webinar_id, question_id=question_id, **body)
        row = db.connection().execute(queries.MODERATE_QUESTION, params).fetchone()
        if row is not None:
            row |= db.connection().execute(queries.QUESTION_UPVOTES, params).fetchone()
        return _written(webinar_id, feed.QUESTIONS, row)


@blp.route(f"/<uuid:webinar_id>/questions/<{ROW_ID}:question_id>/upvote")
class Upvote(MethodView):
    def _vote(self, webinar_id, question_id, up):
        enter_webinar(webinar_id, PARTICIPANTS, writes=True)
        params = {"webinar_id": webinar_id, "question_id": question_id, "up": up}
        row = db.connection().execute(queries.UPVOTE_QUESTION, params).fetchone()
        _written(webinar_id, feed.QUESTIONS, row)
        return {"question_id": question_id, "upvotes": row["upvotes"], "upvoted": row["upvoted"]}

    @limits.per_caller(limits.UPVOTE)
    @admits(PARTICIPANTS)
    @blp.response(200, UpvoteSchema)
    @document_errors(blp, 401, 403, 404, 409, 429, 503)
    def post(self, webinar_id, question_id):
        """Upvote a question the caller can see, once; repeats are harmless."""
        return self._vote(webinar_id, question_id, True)

    @limits.per_caller(limits.UPVOTE)
    @admits(PARTICIPANTS)
    @blp.response(200, UpvoteSchema)
    @document_errors(blp, 401, 403, 404, 409, 429, 503)
    def delete(self, webinar_id, question_id):
        """Withdraw the caller's upvote; repeats are harmless."""
        return self._vote(webinar_id, question_id, False)
