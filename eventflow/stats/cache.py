"""The dashboard's answer, shared by every admin and process, rebuilt at most once per interval.

An admin console asks for `stats` every 15 s or so, and every figure in it is either a count over
the webinar's rows or a rollup that lags by a minute anyway. So each (webinar, sections) answer
is built from PostgreSQL at most once per `stats_cache_seconds` (EVENTFLOW_STATS_CACHE_SECONDS,
default 5) across all processes, by the first request that finds it stale and wins the lock
(shared_documents.py); every other request is answered with the stored JSON, and with 304 when
its If-None-Match names it. The version (the ETag) is the md5 of the JSON, so it changes exactly
when a figure does.

One answer serves every admin of the webinar because what an admin may see of it does not depend
on who they are: a client admin of the webinar's client and an admin of its agency see the same
rows under the policies (tests/stats/test_cache.py pins that), and the answer names nobody. An
admin of another tenant never reaches the cache: enter_webinar answers 404 before it is read.
"""

import hashlib
from dataclasses import dataclass

from flask import current_app

from eventflow import shared_documents
from eventflow.stats.schemas import StatsSchema

KEY_PREFIX = "ef:stats"
METRIC_NAME = "stats"  # the label of this cache in the metrics
EXTENSION_KEY = "eventflow.dashboards"


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


def dashboard(webinar_id, sections, build_stats):
    """The (webinar, sections) answer, at most `stats_cache_seconds` old; `build_stats()` reads
    the figures from PostgreSQL when it must be rebuilt."""
    key = f"{webinar_id}:{','.join(sections)}"
    return current_app.extensions[EXTENSION_KEY].get(key, lambda: as_document(build_stats()))


def init_app(app):
    """Give the app its dashboard cache (once per app)."""
    if EXTENSION_KEY not in app.extensions:
        max_age = app.extensions["eventflow.settings"].stats_cache_seconds
        app.extensions[EXTENSION_KEY] = shared_documents.SharedDocuments(
            METRIC_NAME, KEY_PREFIX, max_age, Dashboard.from_document
        )
