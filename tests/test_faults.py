"""Real outages under a running crowd, against gunicorn: PostgreSQL stopped and restarted,
Redis stopped and restarted. Nothing acknowledged is lost; nothing hangs; no restart needed."""

import threading
import time

import psycopg
import pytest

from tests.conftest import http_call

OUTAGE_SECONDS = 10
# The longest a request may take while PostgreSQL is down: the pool's wait for a connection
# (EVENTFLOW_DB_POOL_TIMEOUT) plus the connect timeout, with margin.
BOUNDED_SECONDS = 8


class Crowd:
    """Threads that register fresh participants one after another, recording every answer."""

    def __init__(self, base, tenant, threads=4):
        self.url = f"{base}/api/webinars/{tenant.webinar_id}/register"
        self.tenant = tenant
        self.answers = []  # (user_id, status, seconds, finished_at)
        self._stop = threading.Event()
        self._threads = [threading.Thread(target=self._run) for _ in range(threads)]

    def _run(self):
        while not self._stop.is_set():
            user_id, headers = self.tenant.participant()
            started = time.monotonic()
            try:
                status = http_call(self.url, "POST", headers, {}, timeout=30)
            except OSError as error:
                status = type(error).__name__
            self.answers.append((user_id, status, time.monotonic() - started, time.monotonic()))
            time.sleep(0.01)

    def __enter__(self):
        for thread in self._threads:
            thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        for thread in self._threads:
            thread.join()


@pytest.fixture
def recover_session_pool(app):
    yield
    pool = app.extensions["eventflow.pool"]
    if not pool.closed:
        pool.check()  # connections broken by the outage are replaced


@pytest.mark.usefixtures("recover_session_pool")
def test_postgres_outage_fails_fast_recovers_and_loses_no_acknowledged_write(live_server, services, make_tenant):
    base, _ = live_server
    tenant = make_tenant()
    embedded = services["embedded"]
    with Crowd(base, tenant) as crowd:
        time.sleep(2)
        embedded.pause_postgres()
        down_at = time.monotonic()
        time.sleep(OUTAGE_SECONDS)
        embedded.resume_postgres()
        up_at = time.monotonic()
        time.sleep(8)
    statuses = {status for _, status, _, _ in crowd.answers}
    assert statuses <= {201, 503}, statuses
    during = [a for a in crowd.answers if down_at + 1 < a[3] < up_at]
    assert during and all(status == 503 for _, status, _, _ in during)
    assert max(seconds for _, _, seconds, _ in crowd.answers) < BOUNDED_SECONDS
    recovered = [a for a in crowd.answers if a[3] > up_at + 4]
    assert recovered and all(status == 201 for _, status, _, _ in recovered), "no recovery within 4 s"

    acknowledged = {user_id for user_id, status, _, _ in crowd.answers if status == 201}
    with psycopg.connect(services["owner_url"]) as conn:
        stored = {
            row[0]
            for row in conn.execute("select user_id from registrations where webinar_id = %s", (tenant.webinar_id,))
        }
    lost = acknowledged - stored
    assert len(acknowledged) > 100
    assert lost == set(), f"{len(lost)} acknowledged registrations are missing"


def test_redis_outage_keeps_the_hot_path_answering(live_server, services, make_tenant):
    base, _ = live_server
    tenant = make_tenant()
    embedded = services["embedded"]
    _, headers = tenant.participant()
    webinar = f"{base}/api/webinars/{tenant.webinar_id}"
    assert http_call(f"{webinar}/access/track", "POST", headers, {}) == 201
    answers, stop = [], threading.Event()

    def poll():
        while not stop.is_set():
            answers.append(http_call(f"{webinar}/stats/access", headers=headers))
            time.sleep(0.1)  # 10 polls a second: well within the limit of 60 a minute for 4 s

    thread = threading.Thread(target=poll)
    thread.start()
    try:
        time.sleep(0.5)
        embedded.pause_redis()
        time.sleep(1.5)
        during = [http_call(f"{webinar}/presence/ping", "POST", headers, {}) for _ in range(3)]
        embedded.start_redis()
        time.sleep(1.5)
    finally:
        stop.set()
        thread.join()
    assert during == [200, 200, 200]
    assert set(answers) == {200}, answers
    assert http_call(f"{base}/readyz") == 200
