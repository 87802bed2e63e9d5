"""The change window's cost: one PostgreSQL read per change burst, whatever the crowd and however
many processes; none at all for a poll inside it, even with every pooled connection taken."""

import time

import psycopg
import pytest
from prometheus_client import REGISTRY

from eventflow import breaker, shared_documents
from eventflow.chat import feed, window
from tests.conftest import checkouts

VIEWERS = 20


def _url(tenant):
    return f"/api/webinars/{tenant.webinar_id}/messages"


def _refills():
    return REGISTRY.get_sample_value("eventflow_snapshot_rebuilds_total", {"snapshot": window.METRIC_NAME}) or 0


def _post(client, tenant, headers, body):
    assert client.post(_url(tenant), json={"body": body}, headers=headers).status_code == 201


def test_a_busy_chat_costs_one_read_per_burst_and_none_per_viewer(app, client, make_tenant):
    tenant = make_tenant()
    _, poster = tenant.participant(name="Poster")
    viewers = [tenant.participant(name=f"Viewer {n}")[1] for n in range(VIEWERS)]
    _post(client, tenant, poster, "hello")
    cursors = [client.get(_url(tenant), headers=viewer).json["next"] for viewer in viewers]

    for burst in range(4):
        bodies = [f"burst {burst} message {n}" for n in range(3)]
        for body in bodies:
            _post(client, tenant, poster, body)
        before = checkouts(app)
        pages = [
            client.get(_url(tenant), query_string={"after": cursor}, headers=viewer).json
            for viewer, cursor in zip(viewers, cursors, strict=True)
        ]
        assert checkouts(app) - before == 1, "the window is read once per burst, not once per viewer"
        assert all([m["body"] for m in page["messages"]] == bodies for page in pages)
        before = checkouts(app)
        again = [
            client.get(_url(tenant), query_string={"after": cursor}, headers=viewer).json
            for viewer, cursor in zip(viewers, cursors, strict=True)
        ]
        assert checkouts(app) == before, "a poll inside a current window took a pooled connection"
        assert again == pages
        cursors = [page["next"] for page in pages]

    # The poster's own rows changed after their cursor: only PostgreSQL knows how they see them.
    before = checkouts(app)
    own = client.get(_url(tenant), query_string={"after": 1}, headers=poster).json
    assert checkouts(app) == before + 1
    assert all(message["mine"] for message in own["messages"])


def _five_messages_in_the_window(app, make_tenant):
    """A webinar where a poster wrote five messages and a viewer's poll filled the window:
    (test client, tenant, poster's headers, viewer's headers)."""
    client = app.test_client()
    tenant = make_tenant()
    _, poster = tenant.participant(name="Poster")
    _, viewer = tenant.participant(name="Viewer")
    for n in range(5):
        _post(client, tenant, poster, f"message {n}")
    assert client.get(_url(tenant), query_string={"after": 3}, headers=viewer).status_code == 200
    return client, tenant, poster, viewer


def test_polls_inside_the_window_answer_while_every_connection_is_taken(make_app, make_tenant):
    app = make_app(db_pool_min=1, db_pool_max=2, db_pool_timeout=0.3)
    client, tenant, poster, viewer = _five_messages_in_the_window(app, make_tenant)

    pool = app.extensions["eventflow.pool"]
    held = [pool.getconn() for _ in range(2)]  # the chat's writers have every connection
    try:
        inside = client.get(_url(tenant), query_string={"after": 3}, headers=viewer)
        assert inside.status_code == 200
        assert [m["body"] for m in inside.json["messages"]] == ["message 3", "message 4"]
        own = client.get(_url(tenant), query_string={"after": 3}, headers=poster)
        assert own.status_code == 503 and "Retry-After" in own.headers  # it needs PostgreSQL
    finally:
        for conn in held:
            pool.putconn(conn)


def test_one_process_refills_the_window_for_all(make_app, make_tenant):
    first, second = make_app().test_client(), make_app().test_client()
    tenant = make_tenant()
    _, poster = tenant.participant(name="Poster")
    viewers = [tenant.participant(name=f"Viewer {n}")[1] for n in range(6)]
    _post(first, tenant, poster, "hello")
    for viewer in viewers:  # both processes hold the window, and the webinar
        first.get(_url(tenant), headers=viewer)
        second.get(_url(tenant), headers=viewer)

    _post(first, tenant, poster, "news")
    time.sleep(second.application.extensions[feed.EXTENSION_KEY].seconds)  # as a client's next poll would
    refills, second_checkouts = _refills(), checkouts(second.application)
    for viewer in viewers:
        for process in (second, first):  # the second asks first, so it is the one that refills
            page = process.get(_url(tenant), query_string={"after": 1}, headers=viewer).json
            assert [m["body"] for m in page["messages"]] == ["news"]
    assert _refills() - refills == 1
    assert checkouts(second.application) == second_checkouts + 1, "only the refill, in the process that won"


def test_while_one_process_refills_the_others_answer_from_the_window_they_have(app, client, make_tenant):
    tenant = make_tenant()
    _, poster = tenant.participant(name="Poster")
    _, viewer = tenant.participant(name="Viewer")
    _post(client, tenant, poster, "hello")
    assert client.get(_url(tenant), headers=viewer).json["next"] == "1"
    _post(client, tenant, poster, "news")

    key = f"{tenant.webinar_id}:messages"
    with app.app_context(), shared_documents.rebuild_lock(window.KEY_PREFIX, key) as held:
        assert held  # another process is refilling the window
        before = checkouts(app)
        page = client.get(_url(tenant), query_string={"after": 0}, headers=viewer).json
        assert checkouts(app) == before, "a poller read PostgreSQL while another refilled"
        assert ([m["body"] for m in page["messages"]], page["next"]) == (["hello"], "1")
    page = client.get(_url(tenant), query_string={"after": 1}, headers=viewer).json
    assert ([m["body"] for m in page["messages"]], page["next"]) == (["news"], "2")


def test_an_open_breaker_still_answers_polls_inside_the_window(make_app, make_tenant):
    app = make_app(poll_breaker_failures=1, poll_breaker_reset_seconds=60, feed_window_changes=3)
    client, tenant, _, viewer = _five_messages_in_the_window(app, make_tenant)

    with pytest.raises(psycopg.OperationalError), app.extensions[breaker.EXTENSION_KEY].guard():
        raise psycopg.OperationalError("connection refused")  # the database failed: the breaker opens
    before = checkouts(app)
    inside = client.get(_url(tenant), query_string={"after": 2}, headers=viewer)
    assert inside.status_code == 200
    assert [m["body"] for m in inside.json["messages"]] == ["message 2", "message 3", "message 4"]
    older = client.get(_url(tenant), query_string={"after": 1}, headers=viewer)
    assert older.status_code == 503 and int(older.headers["Retry-After"]) >= 1
    assert checkouts(app) == before, "an open breaker touched the pool"
