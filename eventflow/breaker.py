"""A circuit breaker in front of PostgreSQL for the fallback polls (chat and Q&A).

When the database fails, a crowd polling every 2 s would otherwise pile up behind the pool's
checkout timeout and keep a struggling database from recovering. The breaker counts consecutive
database failures (connection errors, pool and statement timeouts); at `failures` in a row it
opens and every poll is refused at once (503 + Retry-After) without touching the pool. After
`reset_seconds` it lets one request through as a probe (half-open): if the probe reaches the
database the breaker closes, if it fails the breaker opens for another cool-down.

The state is per process (each gunicorn worker learns on its own, which needs no shared store
that could itself be down); transitions are logged and set eventflow_breaker_state, and /readyz
shows the state.
"""

import logging
import math
import random
import threading
import time
from contextlib import contextmanager

import psycopg
from flask_smorest import abort

from eventflow import metrics

log = logging.getLogger(__name__)

CLOSED, OPEN, HALF_OPEN = "closed", "open", "half_open"
# What counts as the database failing: connection errors, PoolTimeout and QueryCanceled (the
# statement timeout) are all OperationalErrors; InterfaceError is a connection already broken.
DATABASE_FAILURES = (psycopg.OperationalError, psycopg.InterfaceError)
EXTENSION_KEY = "eventflow.poll_breaker"
_GAUGE_VALUES = {CLOSED: metrics.BREAKER_CLOSED, HALF_OPEN: metrics.BREAKER_HALF_OPEN, OPEN: metrics.BREAKER_OPEN}


class BreakerOpen(Exception):
    def __init__(self, retry_after):
        super().__init__(f"circuit open; retry after {retry_after} s")
        self.retry_after = retry_after


class Probe:
    """Handed to the guarded block: call `reached_database()` once the database has answered."""

    def __init__(self):
        self.answered = False

    def reached_database(self):
        self.answered = True


class CircuitBreaker:
    def __init__(self, name, failures, reset_seconds, clock=time.monotonic):
        self.name = name
        self.failures = failures
        self.reset_seconds = reset_seconds
        self._clock = clock
        self._lock = threading.Lock()
        self._consecutive_failures = 0
        self._opened_at = 0.0
        self._probing = False
        self._set_state(CLOSED)

    def _set_state(self, state):
        self._state = state
        metrics.BREAKER_STATE.labels(self.name).set(_GAUGE_VALUES[state])

    @property
    def state(self):
        with self._lock:
            if self._state == OPEN and self._clock() - self._opened_at >= self.reset_seconds:
                return HALF_OPEN
            return self._state

    def describe(self):
        state, failures = self.state, self._consecutive_failures
        return f"{state} ({failures} consecutive failures)" if failures else state

    def _retry_after(self):
        """Seconds until the next probe, plus a little jitter so that a crowd does not return at once."""
        remaining = self.reset_seconds - (self._clock() - self._opened_at)
        return max(1, math.ceil(remaining)) + random.randint(0, max(1, math.ceil(self.reset_seconds / 4)))

    def _admit(self):
        """Raise BreakerOpen unless this request may use the database; True if it is the probe."""
        with self._lock:
            if self._state == CLOSED:
                return False
            if self._state == OPEN and self._clock() - self._opened_at < self.reset_seconds:
                raise BreakerOpen(self._retry_after())
            if self._probing:
                raise BreakerOpen(1)
            self._set_state(HALF_OPEN)
            self._probing = True
            log.warning("breaker %s half-open: probing the database", self.name)
            return True

    def _record(self, is_probe, outcome):
        with self._lock:
            if is_probe:
                self._probing = False
            if outcome == "success":
                if self._state != CLOSED:
                    log.warning("breaker %s closed: the database answers again", self.name)
                    self._set_state(CLOSED)
                self._consecutive_failures = 0
            elif outcome == "failure":
                self._consecutive_failures += 1
                if self._state == HALF_OPEN or self._consecutive_failures >= self.failures:
                    if self._state != OPEN:
                        log.warning(
                            "breaker %s open after %d database failures; refusing for %.0f s",
                            self.name,
                            self._consecutive_failures,
                            self.reset_seconds,
                        )
                        self._set_state(OPEN)
                    self._opened_at = self._clock()
            # "neutral": the request never reached the database (a cached answer, a 404); a
            # probe that ends so leaves the breaker half-open for the next request to probe.

    @contextmanager
    def guard(self):
        """Run a block that may use the database. Raises BreakerOpen without running it when the
        circuit is open; a DATABASE_FAILURES exception from the block counts as a failure (and
        propagates), `probe.reached_database()` as a success, anything else as neither."""
        is_probe = self._admit()
        probe = Probe()
        try:
            yield probe
        except DATABASE_FAILURES:
            self._record(is_probe, "failure")
            raise
        except BaseException:
            self._record(is_probe, "success" if probe.answered else "neutral")
            raise
        self._record(is_probe, "success" if probe.answered else "neutral")


def refuse(exc):
    """Answer a poll the open breaker refused: 503 at once, with when to come back (a poll's
    Poll-Interval too, so that a client which follows only that one waits as long)."""
    seconds = str(exc.retry_after)
    abort(
        503,
        message="the database is unavailable; retry later",
        headers={"Retry-After": seconds, "Poll-Interval": seconds},
    )


def init_app(app):
    """Give the app its poll breaker, configured from its settings (once per app)."""
    if EXTENSION_KEY not in app.extensions:
        settings = app.extensions["eventflow.settings"]
        app.extensions[EXTENSION_KEY] = CircuitBreaker(
            "database-polls", settings.poll_breaker_failures, settings.poll_breaker_reset_seconds
        )
    return app.extensions[EXTENSION_KEY]


def describe(app):
    """The poll breaker's state for /readyz, or 'absent' when the app has none."""
    found = app.extensions.get(EXTENSION_KEY)
    return found.describe() if found else "absent"
