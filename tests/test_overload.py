"""Overload degrades, it does not collapse: with every connection of the pool held, requests that
need no database still answer, those that do are refused at once (503 + Retry-After, within the
request start bound, never the pool's timeout), and chat pollers are slowed before they are
refused. A request that waited in the front's queue past the bound is refused before Flask."""

import time

import pytest
from prometheus_client import REGISTRY

from eventflow import db, front
from eventflow.overload import StartBound
from tests.conftest import checkouts

BOUND_MS = 100
POOL_TIMEOUT = 20.0  # so long that a request waiting for it could not pass for a refusal


def shed(reason):
    return REGISTRY.get_sample_value("eventflow_shed_requests_total", {"reason": reason}) or 0


@pytest.fixture
def busy(make_app, make_tenant):
    """An app whose every pooled connection is held (by requests that took them all), with a
    tenant whose viewer polled stats/access and messages once before: (client, tenant, viewer,
    app, poster). The poster's own poll needs PostgreSQL (their own rows changed)."""
    app = make_app(db_pool_min=2, db_pool_max=2, db_pool_timeout=POOL_TIMEOUT, request_start_bound_ms=BOUND_MS)
    client = app.test_client()
    tenant = make_tenant()
    _, viewer = tenant.participant()
    base = f"/api/webinars/{tenant.webinar_id}"
    assert client.post(f"{base}/access/track", headers=viewer).status_code == 201
    _, poster = tenant.participant(name="Poster")
    assert client.post(f"{base}/messages", json={"body": "hello"}, headers=poster).status_code == 201
    assert client.get(f"{base}/stats/access", headers=viewer).status_code == 200
    assert client.get(f"{base}/messages", headers=viewer).headers["Poll-Interval"] == "2"
    pool = app.extensions["eventflow.pool"]
    held = [db.checkout(pool) for _ in range(2)]
    yield client, tenant, viewer, app, poster
    for conn in held:
        db.give_back(pool, conn)


def test_requests_needing_no_database_answer_while_every_connection_is_held(busy):
    client, tenant, viewer, app, poster = busy
    base = f"/api/webinars/{tenant.webinar_id}"
    before = checkouts(app)
    assert client.get(f"{base}/stats/access", headers=viewer).status_code == 200
    poll = client.get(f"{base}/messages", query_string={"after": 1}, headers=viewer)
    assert poll.status_code == 200 and poll.json["messages"] == []
    assert poll.headers["Poll-Interval"] == "6", "a poller is slowed while every connection is in use"
    assert client.get("/healthz").status_code == 200
    assert checkouts(app) == before


def test_requests_needing_the_database_are_refused_within_the_bound(busy):
    client, tenant, viewer, app, poster = busy
    base = f"/api/webinars/{tenant.webinar_id}"
    refused_before = shed("waited_for_a_connection")
    requests = (("post", "presence/ping", viewer), ("post", "access/track", viewer), ("get", "messages", poster))
    for method, path, headers in requests:
        started = time.monotonic()
        answer = getattr(client, method)(f"{base}/{path}", headers=headers)
        waited = time.monotonic() - started
        assert answer.status_code == 503 and answer.is_json, path
        assert int(answer.headers["Retry-After"]) >= 1
        assert waited < POOL_TIMEOUT / 4, f"{path} waited {waited:.1f} s: for the pool, not the bound"
    assert shed("waited_for_a_connection") == refused_before + 3
    readiness = client.get("/readyz")
    assert readiness.status_code == 200 and readiness.json["checks"]["database"] == "busy"


def test_a_busy_pool_does_not_open_the_breaker(busy):
    client, tenant, _, _, poster = busy
    for _ in range(8):  # more than poll_breaker_failures
        assert client.get(f"/api/webinars/{tenant.webinar_id}/messages", headers=poster).status_code == 503
    assert client.get("/readyz").json["checks"]["poll_breaker"].startswith("closed")


@pytest.fixture
def behind_front(make_app, make_tenant):
    app = make_app(trusted_proxies=1, request_start_bound_ms=BOUND_MS)
    tenant = make_tenant()
    _, viewer = tenant.participant()
    return app.test_client(), f"/api/webinars/{tenant.webinar_id}/stats/access", viewer, app


def test_a_request_that_waited_past_the_bound_is_refused_before_flask(behind_front):
    client, url, viewer, app = behind_front
    fresh = {**viewer, "X-Request-Start": f"t={time.time():.3f}"}
    assert client.get(url, headers=fresh).status_code == 200
    late = {**viewer, "X-Request-Start": f"t={time.time() - 1:.3f}", "X-Request-Id": "late-1"}
    before, refused_before = checkouts(app), shed("waited_for_a_thread")
    answer = client.get(url, headers=late)
    assert answer.status_code == 503 and answer.json["code"] == 503
    assert int(answer.headers["Retry-After"]) >= 1
    assert answer.headers["X-Request-Id"] == "late-1" and answer.headers["X-Content-Type-Options"] == "nosniff"
    assert shed("waited_for_a_thread") == refused_before + 1
    assert checkouts(app) == before
    late_probe = {"X-Request-Start": f"t={time.time() - 1:.3f}"}
    assert client.get("/healthz", headers=late_probe).status_code == 200


def test_the_stamp_is_ignored_without_a_trusted_front(make_app, make_tenant):
    tenant = make_tenant()
    _, viewer = tenant.participant()
    client = make_app(request_start_bound_ms=BOUND_MS).test_client()
    late = {**viewer, "X-Request-Start": f"t={time.time() - 60:.3f}"}
    assert client.get(f"/api/webinars/{tenant.webinar_id}/stats/access", headers=late).status_code == 200


def test_the_front_stamps_every_request():
    assert 'proxy_set_header X-Request-Start "t=$msec";' in front.render("127.0.0.1:1", "127.0.0.1:2")


def test_the_start_bound_lets_a_stall_drain_and_refuses_a_standing_queue():
    bound = StartBound(target_seconds=0.02, bound_seconds=0.25)
    now = 100.0
    assert bound.admits(0.2, now), "a stall's backlog starts: the queue has not stood for an interval"
    assert bound.admits(0.15, now + 0.05)
    assert bound.admits(0.005, now + 0.06), "and drains"
    assert not bound.admits(0.3, now + 0.07), "never past the bound"
    for served in (0.0, 0.05, 0.099):
        assert bound.admits(0.03, now + 0.07 + served), "above the target, for less than an interval"
    assert not bound.admits(0.03, now + 0.171), "above the target for a whole interval: the queue stands"
    assert bound.allowed_wait(now + 0.2) == 0.02
    assert bound.admits(0.015, now + 0.21), "a wait within the target still starts"
    assert bound.allowed_wait(now + 0.22) == 0.25, "and shows the queue drains"


def test_a_standing_queue_for_connections_is_refused_within_the_target(busy):
    client, tenant, viewer, app, _ = busy
    slots = app.extensions["eventflow.pool"].slots
    # A bound far longer than the test may take: only the target can explain a prompt refusal.
    slots.bound = StartBound(target_seconds=0.02, bound_seconds=POOL_TIMEOUT)
    slots.bound.above_since = time.monotonic() - 1  # requests have waited past the target for a second
    started = time.monotonic()
    answer = client.post(f"/api/webinars/{tenant.webinar_id}/presence/ping", headers=viewer)
    assert answer.status_code == 503
    assert time.monotonic() - started < POOL_TIMEOUT / 4
