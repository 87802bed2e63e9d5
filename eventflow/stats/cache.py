"""The dashboard's answer, shared by every admin and process, rebuilt at most once per interval.

An admin console asks for `stats` every 15 s or so, and every figure in it is either a count over
the webinar's rows or a rollup that lags by a minute anyway. So each (webinar, sections) answer
is built from PostgreSQL at most once per `stats_cache_seconds` (EVENTFLOW_STATS_CACHE_SECONDS,
default 5) across all processes, by the first request that finds it stale and wins the lock
(shared_documents.py); every other request is answered with the stored JSON, and with 304 when
its If-None-Match names it. The version (the ETag) is the md5 of the JSON, so it changes exactly
when a figure does.

No admin waits for a rebuild while an answer at most STALE_INTERVALS intervals old exists: the
request that finds it stale is answered with it, and rebuilds it once that answer has been sent
(in the same thread, in a transaction of its own under the same admin's context). Inside a crowd
the rebuild took 40-220 ms (nine sections under a busy database); the answer now takes what
reading Redis does. A dashboard nobody asked for in that long is rebuilt before it is answered.

One answer serves every admin of the webinar because what an admin may see of it does not depend
on who they are: a client admin of the webinar's client and an admin of its agency see the same
rows under the policies (tests/stats/test_cache.py pins that), and the answer names nobody. An
admin of another tenant never reaches the cache: enter_webinar answers 404 before it is read.
"""

import hashlib
import logging
from dataclasses import dataclass

from flask import after_this_request, current_app, g

from eventflow import db, shared_documents
from eventflow.stats.schemas import StatsSchema

log = logging.getLogger(__name__)

KEY_PREFIX = "ef:stats"
METRIC_NAME = "stats"  # the label of this cache in the metrics
EXTENSION_KEY = "eventflow.dashboards"
STALE_INTERVALS = 3


@dataclass
class Dashboard:
    version: str  # the ETag
    built_at: float  # epoch seconds
    document: bytes  # the answer's JSON
    checked_at: float = 0.0

    @classmethod
    def from_document(cls, document, version, built_at):
        return cls(version, built_at, document if isinstance(document, bytes) else document.encode())


def as_document(stats):
    """The answer's JSON as the view would send it, and its version."""
    document = current_app.json.dumps(StatsSchema().dump(stats)).encode()
    return document, hashlib.md5(document, usedforsecurity=False).hexdigest()


def dashboard(webinar_id, sections, read_stats):
    """The (webinar, sections) answer, rebuilt when it is `stats_cache_seconds` old (before this
    answer only when it is STALE_INTERVALS intervals old); `read_stats(conn)` reads the figures
    from PostgreSQL on a connection under the admin's context."""
    key = f"{webinar_id}:{','.join(sections)}"
    documents = current_app.extensions[EXTENSION_KEY]
    return documents.get(
        key,
        lambda: as_document(read_stats(db.connection())),
        refresh_later=_after_the_answer(lambda conn: as_document(read_stats(conn))),
    )


def _after_the_answer(load_on):
    """What SharedDocuments calls with a rebuild to run once this request's answer has been sent:
    in this thread, in a transaction of its own (the request's has committed by then) under the
    same context, as `load_on(conn)`."""
    app, context = current_app._get_current_object(), g.db_context

    def schedule(refresh):
        def rebuild():
            try:
                with app.app_context(), db.transaction(db.get_pool(), context) as conn:
                    refresh(lambda: load_on(conn))
            except db.Overloaded:
                pass  # the database has all the work it may take; the next request tries again
            except Exception:  # noqa: BLE001 - the answer has left; the next request rebuilds it
                log.exception("rebuilding a dashboard after its answer failed")

        @after_this_request
        def when_sent(response):
            response.call_on_close(rebuild)
            return response

    return schedule


def init_app(app):
    """Give the app its dashboard cache (once per app)."""
    if EXTENSION_KEY not in app.extensions:
        max_age = app.extensions["eventflow.settings"].stats_cache_seconds
        app.extensions[EXTENSION_KEY] = shared_documents.SharedDocuments(
            METRIC_NAME, KEY_PREFIX, max_age, Dashboard.from_document, (STALE_INTERVALS - 1) * max_age
        )
