"""Chat: posting, the cursor poll (exact under concurrent writers, free when current), hiding."""

import random
import threading
import time
import uuid

import pytest

from eventflow import db
from eventflow.chat import feed
from tests import failing_commit

HTML = "<b>bold</b> & <script>alert('x')</script>"


def _url(webinar_id, suffix=""):
    return f"/api/webinars/{webinar_id}/messages{suffix}"


def _post(client, webinar_id, headers, body):
    return client.post(_url(webinar_id), json={"body": body}, headers=headers)


def _poll(client, webinar_id, headers, after=None, limit=None):
    query = "&".join(f"{k}={v}" for k, v in (("after", after), ("limit", limit)) if v is not None)
    return client.get(_url(webinar_id, f"?{query}"), headers=headers)


def _bodies(response):
    return [m["body"] for m in response.json["messages"]]


def test_post_then_poll_oldest_first_with_next_cursor(client, make_tenant):
    tenant = make_tenant()
    _, alice = tenant.participant(name="Alice")
    for text in ("one", "two", "three"):
        response = _post(client, tenant.webinar_id, alice, text)
        assert response.status_code == 201
        assert response.json["display_name"] == "Alice" and response.json["mine"] is True

    first = _poll(client, tenant.webinar_id, alice, limit=2)
    assert first.status_code == 200
    assert _bodies(first) == ["one", "two"]
    assert first.headers["Poll-Interval"] == "2"
    second = _poll(client, tenant.webinar_id, alice, after=first.json["next"], limit=2)
    assert _bodies(second) == ["three"]
    empty = _poll(client, tenant.webinar_id, alice, after=second.json["next"])
    assert empty.json == {"messages": [], "removed": [], "next": second.json["next"]}


def test_admins_post_and_see_authors(client, make_tenant):
    tenant = make_tenant()
    user_id, viewer = tenant.participant()
    _post(client, tenant.webinar_id, viewer, "from a viewer")
    assert _post(client, tenant.webinar_id, tenant.client_admin(), "from the host").status_code == 201
    admin_view = _poll(client, tenant.webinar_id, tenant.agency_admin()).json["messages"]
    assert [(m["body"], m["author_role"]) for m in admin_view] == [
        ("from a viewer", "participant"),
        ("from the host", "client_admin"),
    ]
    assert admin_view[0]["user_id"] == str(user_id)
    viewer_view = _poll(client, tenant.webinar_id, viewer).json["messages"]
    assert [m["user_id"] for m in viewer_view] == [None, None], "participants do not get others' ids"


def test_text_is_stored_and_returned_as_text(client, make_tenant, owner):
    tenant = make_tenant()
    _, viewer = tenant.participant()
    posted = _post(client, tenant.webinar_id, viewer, f"  {HTML}\n")
    assert posted.json["body"] == HTML
    stored = owner.execute("select body from messages where webinar_id = %s", (tenant.webinar_id,)).fetchone()
    assert stored["body"] == HTML
    polled = _poll(client, tenant.webinar_id, viewer)
    assert polled.mimetype == "application/json"
    assert _bodies(polled) == [HTML]


@pytest.mark.parametrize("after", ["abc", "-1", "1e3", "12abc", "1234567890123456", "%00", ""])
def test_bad_cursors_are_422_json(client, make_tenant, after):
    tenant = make_tenant()
    _, viewer = tenant.participant()
    response = _poll(client, tenant.webinar_id, viewer, after=after)
    assert response.status_code == 422 and response.is_json


@pytest.mark.parametrize("limit", ["0", "201", "x"])
def test_bad_limits_are_422_json(client, make_tenant, limit):
    tenant = make_tenant()
    _, viewer = tenant.participant()
    response = _poll(client, tenant.webinar_id, viewer, limit=limit)
    assert response.status_code == 422 and response.is_json


@pytest.mark.parametrize("body", ["", "   ", "x" * 2001, "nul\x00byte", "bell\x07", 42, None])
def test_bad_message_bodies_are_422_json(client, make_tenant, body):
    tenant = make_tenant()
    _, viewer = tenant.participant()
    response = _post(client, tenant.webinar_id, viewer, body)
    assert response.status_code == 422 and response.is_json


def test_oversize_and_malformed_bodies_are_4xx_json(client, make_tenant):
    tenant = make_tenant()
    _, viewer = tenant.participant()
    huge = client.post(_url(tenant.webinar_id), json={"body": "x" * 70_000}, headers=viewer)
    assert huge.status_code == 413 and huge.is_json
    garbled = client.post(_url(tenant.webinar_id), data="{not json", content_type="application/json", headers=viewer)
    assert 400 <= garbled.status_code < 500 and garbled.is_json
    assert _post(client, tenant.webinar_id, viewer, "x" * 2000).status_code == 201


def test_tenancy_404_and_auth_401(client, make_tenant):
    mine, theirs = make_tenant(), make_tenant()
    for headers in (mine.client_admin(), mine.agency_admin()):
        assert _poll(client, theirs.webinar_id, headers).status_code == 404
        assert _post(client, theirs.webinar_id, headers, "hi").status_code == 404
    _, viewer = mine.participant()
    assert _poll(client, uuid.uuid4(), viewer).status_code == 404
    response = client.get(_url(mine.webinar_id))
    assert response.status_code == 401 and response.is_json


def test_hidden_messages_leave_participants_polls(client, make_tenant):
    tenant = make_tenant()
    _, author = tenant.participant()
    _, other = tenant.participant()
    admin = tenant.client_admin()
    spam = _post(client, tenant.webinar_id, author, "buy cheap stuff").json["id"]
    _post(client, tenant.webinar_id, author, "a fine message")
    seen = _poll(client, tenant.webinar_id, other)
    assert _bodies(seen) == ["buy cheap stuff", "a fine message"]

    assert client.patch(_url(tenant.webinar_id, f"/{spam}"), json={"hidden": True}, headers=other).status_code == 403
    hidden = client.patch(_url(tenant.webinar_id, f"/{spam}"), json={"hidden": True}, headers=admin)
    assert hidden.status_code == 200 and hidden.json["hidden"] is True

    # A viewer who had it is told to take it away; one who starts now never sees it.
    update = _poll(client, tenant.webinar_id, other, after=seen.json["next"]).json
    assert update["messages"] == [] and update["removed"] == [spam]
    assert _bodies(_poll(client, tenant.webinar_id, other)) == ["a fine message"]
    # Its author still sees it (marked hidden), and so do admins.
    assert [(m["body"], m["hidden"]) for m in _poll(client, tenant.webinar_id, author).json["messages"]] == [
        ("a fine message", False),
        ("buy cheap stuff", True),
    ]
    assert {m["id"]: m["hidden"] for m in _poll(client, tenant.webinar_id, admin).json["messages"]}[spam] is True

    client.patch(_url(tenant.webinar_id, f"/{spam}"), json={"hidden": False}, headers=admin)
    assert "buy cheap stuff" in _bodies(_poll(client, tenant.webinar_id, other, after=update["next"]))


def test_a_participant_may_not_moderate_whatever_the_body(client, make_tenant):
    tenant = make_tenant()
    _, viewer = tenant.participant()
    message = _post(client, tenant.webinar_id, viewer, "mine").json["id"]
    for body in ({}, {"hidden": "maybe"}, {"hidden": True}):
        response = client.patch(_url(tenant.webinar_id, f"/{message}"), json=body, headers=viewer)
        assert response.status_code == 403 and response.is_json, body


def test_a_message_whose_commit_fails_is_a_503_and_announces_nothing(app, client, make_tenant, owner):
    tenant = make_tenant()
    _, viewer = tenant.participant()
    _post(client, tenant.webinar_id, viewer, "kept")
    current = _poll(client, tenant.webinar_id, viewer).json["next"]
    marker_key = feed.marker_key(tenant.webinar_id, feed.MESSAGES)
    redis = app.extensions["eventflow.redis"]
    assert redis.get(marker_key) == current.encode()
    with failing_commit.refused_at_commit(owner, "messages", "new.body = 'lost'"):
        lost = _post(client, tenant.webinar_id, viewer, "lost")
    assert lost.status_code == 503 and lost.is_json
    assert redis.get(marker_key) == current.encode(), "the marker announced a write that never committed"
    stored = owner.execute("select body from messages where webinar_id = %s", (tenant.webinar_id,)).fetchall()
    assert stored == [{"body": "kept"}]
    assert _poll(client, tenant.webinar_id, viewer, after=current).json["messages"] == []


def test_moderating_another_tenants_or_unknown_message_is_404(client, make_tenant):
    mine, theirs = make_tenant(), make_tenant()
    _, viewer = theirs.participant()
    message = _post(client, theirs.webinar_id, viewer, "hello").json["id"]
    admin = mine.client_admin()
    assert client.patch(_url(theirs.webinar_id, f"/{message}"), json={"hidden": True}, headers=admin).status_code == 404
    for missing in (message, 10**18, 10**30):
        response = client.patch(_url(mine.webinar_id, f"/{missing}"), json={"hidden": True}, headers=admin)
        assert response.status_code == 404 and response.is_json


def test_a_current_cursor_poll_makes_no_database_work(client, make_tenant, pool_checkouts):
    tenant = make_tenant()
    _, viewer = tenant.participant()
    _post(client, tenant.webinar_id, viewer, "hello")
    current = _poll(client, tenant.webinar_id, viewer).json["next"]  # also warms the webinar cache
    before = pool_checkouts()
    for _ in range(5):
        response = _poll(client, tenant.webinar_id, viewer, after=current)
        assert response.status_code == 200 and response.json["messages"] == []
    assert pool_checkouts() == before, "a current-cursor poll took a database connection"

    _post(client, tenant.webinar_id, viewer, "news")
    before = pool_checkouts()
    assert _bodies(_poll(client, tenant.webinar_id, viewer, after=current)) == ["news"]
    assert pool_checkouts() > before, "a poll that is behind must read PostgreSQL"


def test_a_webinar_without_messages_polls_for_free_too(client, make_tenant, pool_checkouts):
    tenant = make_tenant()
    _, viewer = tenant.participant()
    assert _poll(client, tenant.webinar_id, viewer).json == {"messages": [], "removed": [], "next": "0"}
    before = pool_checkouts()
    assert _poll(client, tenant.webinar_id, viewer, after="0").status_code == 200
    assert pool_checkouts() == before


def test_posting_is_rate_limited_per_user(client, make_tenant):
    tenant = make_tenant()
    _, viewer = tenant.participant()
    statuses = [_post(client, tenant.webinar_id, viewer, f"m{i}").status_code for i in range(31)]
    assert statuses[:30] == [201] * 30
    assert statuses[30] == 429
    _, someone_else = tenant.participant()
    assert _post(client, tenant.webinar_id, someone_else, "still fine").status_code == 201


def test_without_redis_polls_read_postgresql_and_slow_clients_down(make_app, settings, make_tenant):
    app = make_app(redis_url="redis://127.0.0.1:9/0")
    client = app.test_client()
    tenant = make_tenant()
    _, viewer = tenant.participant()
    assert _post(client, tenant.webinar_id, viewer, "no redis, no problem").status_code == 201
    polled = _poll(client, tenant.webinar_id, viewer)
    assert _bodies(polled) == ["no redis, no problem"]
    assert polled.headers["Poll-Interval"] == str(2 * settings.poll_slowdown_factor)
    again = _poll(client, tenant.webinar_id, viewer, after=polled.json["next"])
    assert again.status_code == 200 and again.json["messages"] == []


def _insert_slowly(app, tenant, user_id, results, count):
    """Insert through the app's role and pool, holding each transaction open a random while
    before committing, so that numbering and commit order are put to the test; then announce
    the change as the app does (a write that skips this is only seen once the marker expires)."""
    context = db.RequestContext(
        user_id=user_id,
        role="participant",
        client_id=tenant.client_id,
        agency_id=tenant.agency_id,
        webinar_id=tenant.webinar_id,
    )
    with app.app_context():
        for i in range(count):
            with db.transaction(db.get_pool(), context) as conn:
                row = conn.execute(
                    """insert into messages (webinar_id, client_id, agency_id, user_id, author_role, body)
                       values (%s, %s, %s, %s, 'participant', %s) returning id, seq""",
                    (tenant.webinar_id, tenant.client_id, tenant.agency_id, user_id, f"slow {user_id} {i}"),
                ).fetchone()
                time.sleep(random.uniform(0, 0.02))
            feed.raise_marker(tenant.webinar_id, feed.MESSAGES, row["seq"])
            results.append(row["id"])


def test_concurrent_writers_are_never_skipped_or_repeated(make_app, make_tenant):
    # A connection for each of the eight concurrent writers and the poller: none waits long
    # enough to be refused as overload (README "Overload"), which is not what this test is about.
    app = make_app(db_pool_max=8)
    tenant = make_tenant()
    posted, errors = [], []
    done = threading.Event()

    def post_through_api(count):
        test_client = app.test_client()
        _, headers = tenant.participant()
        for i in range(count):
            response = _post(test_client, tenant.webinar_id, headers, f"api {i}")
            if response.status_code != 201:
                errors.append(response.status_code)
            else:
                posted.append(response.json["id"])

    seen = []

    def poll_until_done():
        test_client, after, polls = app.test_client(), "0", 0
        headers = tenant.client_admin()
        while True:
            finished = done.is_set()
            page = _poll(test_client, tenant.webinar_id, headers, after=after, limit=3)
            polls += 1
            if polls % 100 == 0:  # a fresh caller now and then, to stay under the rate limit
                headers = tenant.client_admin()
            if page.status_code != 200:
                errors.append(page.status_code)
                return
            seen.extend(m["id"] for m in page.json["messages"])
            after = page.json["next"]
            if finished and not page.json["messages"]:
                return

    writers = [threading.Thread(target=post_through_api, args=(15,)) for _ in range(4)]
    writers += [threading.Thread(target=_insert_slowly, args=(app, tenant, uuid.uuid4(), posted, 15)) for _ in range(3)]
    poller = threading.Thread(target=poll_until_done)
    poller.start()
    for thread in writers:
        thread.start()
    for thread in writers:
        thread.join()
    done.set()
    poller.join(timeout=60)

    assert errors == []
    assert len(posted) == 7 * 15
    assert len(seen) == len(set(seen)), "a message was delivered twice"
    assert set(seen) == set(posted), "a message was skipped"
