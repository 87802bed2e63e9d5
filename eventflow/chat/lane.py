"""The fast lane's routes for the chat and Q&A polls (eventflow/fastlane.py).

While the realtime channel is down these are most of the crowd's requests, and nearly all of
them are answered without PostgreSQL (views.py): their cursor is the feed's marker (nothing new),
or the feed's change window holds their page (window.py). Such a poll is answered here when
this process knows the marker (read or raised within `feed_marker_recent_seconds`, else one
Redis read) and its copy of the window is current: the query is plain (`after`, `limit`,
`status`, each at most once, as the schema takes them), and the cursor is the marker, or the
copy has reached the marker and answers the caller (the cursor inside it, none of the caller's
own rows changed after it). Anything else (a copy behind the marker, which
the Flask view refreshes from Redis or PostgreSQL; a cursor outside the window; a caller whose
own rows changed; Redis down) goes to the Flask view.

Both lanes make the page with the same functions (feed.empty_page, Window.page, feed.poll_headers)
and the view's schemas. A page is the same bytes for every caller with one cursor (of one
audience, from one copy of the window): its body is made once (Window.body; the empty page's
per cursor).
"""

import functools
import re

from marshmallow import ValidationError

from eventflow import metrics
from eventflow.auth import EVERYONE
from eventflow.chat import feed, window
from eventflow.chat.schemas import MessagePageSchema, PollArgsSchema, QuestionPageSchema, QuestionPollArgsSchema
from eventflow.fastlane import webinar_path

# A query of plain `name=value` pairs: anything escaped, repeated or unknown is the view's to parse.
_PLAIN_QUERY = re.compile(r"(?:[a-z]+=[0-9a-z]*(?:&[a-z]+=[0-9a-z]*)*)?")


class FeedPoll:
    roles = EVERYONE

    def __init__(self, app, feed_name, endpoint, args_schema, page_schema):
        self.app = app
        self.feed = feed_name
        self.endpoint = endpoint
        self.path = webinar_path(feed_name)
        self.args_schema = args_schema
        self.page_schema = page_schema
        self.windows = app.extensions[window.EXTENSION_KEY]
        self.window_hits = metrics.CACHE_HITS.labels(window.METRIC_NAME)
        # Every caller at the marker gets the same bytes: made once per cursor, as a window's pages are.
        self._empty_body = functools.lru_cache(maxsize=window.BODIES_KEPT)(
            lambda after: self._body(feed.empty_page(self.feed, after))
        )

    def args(self, environ):
        query = environ.get("QUERY_STRING", "")
        if _PLAIN_QUERY.fullmatch(query) is None:
            return None
        pairs = [pair.split("=") for pair in query.split("&")] if query else []
        given = dict(pairs)
        if len(given) != len(pairs) or not given.keys() <= self.args_schema.fields.keys():
            return None
        try:
            return self.args_schema.load(given)
        except ValidationError:  # the view's 422
            return None

    def prepare(self, principal, webinar, args, environ):
        after = int(args["after"])
        with self.app.app_context():  # the feed's functions find Redis, the settings and the pool there
            marker, redis_ok = feed.recent_marker(webinar.id, self.feed)
            if not redis_ok:
                return None
            if marker == after:
                copy, body = None, self._empty_body(after)
            else:
                copy = self.windows.held(webinar.id, self.feed, marker)
                if copy is None or not copy.answers(principal.user_id, after):
                    return None
                page_of = (window.audience_of(principal), after, args["limit"], args.get("status"))
                body = copy.body(page_of, lambda: self._body(copy.page(self.feed, *page_of)))
            headers = feed.poll_headers(self.feed, redis_ok)

        def answer():
            if copy is not None:
                self.window_hits.inc()
            return 200, headers | {"Content-Type": self.app.json.mimetype}, body

        return answer

    def _body(self, page):
        """The body the view's response decorator makes of the page (its schema, Flask's JSON)."""
        return self.app.json.response(self.page_schema.dump(page)).get_data()


def routes(app):
    return [
        FeedPoll(app, feed.MESSAGES, "chat.Messages", PollArgsSchema(), MessagePageSchema()),
        FeedPoll(app, feed.QUESTIONS, "chat.Questions", QuestionPollArgsSchema(), QuestionPageSchema()),
    ]
