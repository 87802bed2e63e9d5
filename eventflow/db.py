"""The connection pool and the one-transaction-per-request discipline.

A request that needs the database takes one pooled connection, and the first statement of its
transaction sets the tenant context transaction-locally (`SET LOCAL app.*`); the transaction
commits before the response leaves (rolls back on any error) and the connection goes back to the
pool with nothing of the request left on it. A request that never asks for `connection()` takes
no connection at all.

Under overload a request does not queue for a connection: when every connection of the
process's pool is in use, it waits for one at most what its `overload.StartBound` allows (the
request start bound, or the target once requests have waited longer than it for a whole
interval) and is then refused (`Overloaded`, answered 503 with Retry-After), so the threads of a
worker never all sit waiting for the database while requests that need none queue behind them
(README: "Overload"). Only while the pool is still making connections does a request wait up to
the pool's timeout.

What must only happen once the write is durable (telling Redis about it) is handed to
`after_commit()`: it runs after a successful commit, and never when the transaction rolls back
or the commit fails.
"""

import logging
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass

import psycopg
from flask import current_app, g
from psycopg import sql
from psycopg.rows import dict_row
from psycopg_pool import ConnectionPool

from eventflow import errors, overload

log = logging.getLogger(__name__)

# SET LOCAL, not set_config(..., true): on Citus only SET LOCAL commands reach the workers (with
# citus.propagate_set_commands = 'local', set first), where the shards' policies read them. On
# plain PostgreSQL the citus.* line sets an unused placeholder, so both run this one statement.
# SET takes no bind parameters: the values are quoted as literals by psycopg.
SET_CONTEXT = sql.SQL(
    "set local citus.propagate_set_commands = 'local';"
    " set local app.user_id = {user_id}; set local app.role = {role};"
    " set local app.client_id = {client_id}; set local app.agency_id = {agency_id};"
    " set local app.webinar_id = {webinar_id}"
)


@dataclass(frozen=True)
class RequestContext:
    """What the policies see of the caller: the app.* settings of one transaction."""

    user_id: object = None
    role: str | None = None
    client_id: object = None
    agency_id: object = None
    webinar_id: object = None

    def as_settings(self):
        return {name: "" if value is None else str(value) for name, value in vars(self).items()}

    def set_on(self, conn):
        """Set this context on `conn`'s open transaction, as its first statement."""
        values = {name: sql.Literal(value) for name, value in self.as_settings().items()}
        conn.execute(SET_CONTEXT.format(**values))


NO_CONTEXT = RequestContext()
RECONNECT_GIVE_UP_SECONDS = 2.0
_open_lock = threading.Lock()


def make_pool(url, settings, name):
    pool = ConnectionPool(
        url,
        min_size=settings.db_pool_min,
        max_size=settings.db_pool_max,
        timeout=settings.db_pool_timeout,
        name=name,
        open=False,
        # Give up reconnecting in the background soon: a request that then finds the pool
        # empty grows it with a fresh, immediate attempt, so after a database outage the pool
        # recovers with the first request instead of after an exponential backoff.
        reconnect_timeout=RECONNECT_GIVE_UP_SECONDS,
        kwargs={
            "row_factory": dict_row,
            "options": f"-c statement_timeout={settings.statement_timeout_ms}",
            "connect_timeout": 3,
        },
    )
    pool.slots = ConnectionSlots(settings.db_pool_max, overload.StartBound.of(settings))
    return pool


class Overloaded(Exception):
    """Every connection of this process's pool stayed in use for the whole bound: the database
    has all the work this process may give it. Not a database failure (the breaker ignores it)."""


class ConnectionSlots:
    """One slot per connection the pool may hold; a request holds one while it holds a connection.
    The slots, not the pool, say whether every connection is in use: a pool replacing lost
    connections during an outage is short of connections without being busy."""

    def __init__(self, size, bound):
        self.size = size
        self.bound = bound
        self._free = threading.Semaphore(size)
        self._lock = threading.Lock()
        self.in_use = 0

    def take(self):
        asked = time.monotonic()
        taken = self._free.acquire(timeout=self.bound.allowed_wait(asked))
        now = time.monotonic()
        self.bound.record(now - asked, now)
        if not taken:
            raise Overloaded()
        with self._lock:
            self.in_use += 1

    def give_back(self):
        with self._lock:
            self.in_use -= 1
        self._free.release()

    def all_taken(self):
        return self.in_use >= self.size


def is_saturated(pool):
    """Every connection the pool may have is held by a request."""
    return pool.slots.all_taken()


def checkout(pool):
    """A connection for a request: a slot within the request start bound (or Overloaded), then a
    connection within the pool's timeout (PoolTimeout: connections cannot be made)."""
    pool.slots.take()
    try:
        return pool.getconn()
    except BaseException:
        pool.slots.give_back()
        raise


def give_back(pool, conn):
    try:
        pool.putconn(conn)
    finally:
        pool.slots.give_back()


@contextmanager
def transaction(pool, context):
    """One transaction on a pooled connection with `context` set first; commit or roll back."""
    conn = checkout(pool)
    try:
        with conn.transaction():
            context.set_on(conn)
            yield conn
    finally:
        give_back(pool, conn)


def get_pool():
    """The app's pool, opened on first use so that CLI commands and cached requests never connect."""
    pool = current_app.extensions["eventflow.pool"]
    if pool.closed:
        with _open_lock:
            if pool.closed:
                pool.open(wait=False)
    return pool


def connection():
    """The current request's connection, its transaction opened with the request's context."""
    if "db_conn" not in g:
        conn = checkout(get_pool())
        g.db_conn = conn
        g.get("db_context", NO_CONTEXT).set_on(conn)
    return g.db_conn


def after_commit(callback):
    """Run `callback()` once the request's transaction has committed (after the view, before the
    response leaves); never if it rolls back or the commit fails. For side effects outside
    PostgreSQL that must not announce a write which might still be lost."""
    g.setdefault("db_after_commit", []).append(callback)


def finish_request_transaction(commit):
    """Commit (or roll back) the request's transaction, if it opened one, and release it; after a
    successful commit, run the request's after_commit callbacks. A failed commit raises."""
    conn = g.pop("db_conn", None)
    callbacks = g.pop("db_after_commit", ())
    if conn is not None:
        try:
            if commit:
                conn.commit()
            else:
                conn.rollback()
        finally:
            give_back(current_app.extensions["eventflow.pool"], conn)
    if commit:
        for callback in callbacks:
            try:
                callback()
            except Exception:
                # The write is durable: answer it as such. A lost side effect is the callback's
                # to bound (e.g. a Redis marker that expires).
                log.exception("after-commit callback %r failed", callback)


def init_app(app, settings):
    app.extensions["eventflow.pool"] = make_pool(settings.database_url, settings, "eventflow-app")

    @app.after_request
    def commit_before_responding(response):
        # Commit before the body leaves, so a 2xx means the write is durable; a commit that
        # fails turns the answer into a 503 instead of acknowledging a lost write.
        try:
            finish_request_transaction(commit=response.status_code < 400)
        except psycopg.Error:
            current_app.logger.exception("commit failed")
            return errors.service_unavailable("the database did not accept the write; retry")
        return response

    @app.teardown_request
    def release_on_error(exc):
        if "db_conn" in g or "db_after_commit" in g:
            finish_request_transaction(commit=False)
