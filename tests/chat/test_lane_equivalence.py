"""The chat and Q&A polls' fast lane against the Flask views it stands in front of: the same
requests, generated over feeds, callers, cursors and queries, sent through each lane must give
the same status, headers (the request id aside when the caller's is not kept), body, rate-limit
counts and metric increments, and the fast lane must answer exactly the polls it can answer
from memory (the cursor at the marker, or inside a current window for a caller none of whose own
rows changed after it). The lane must refuse to run beside an after_request hook it does not
honour, the chat blueprint's included."""

import itertools

import pytest
from werkzeug.test import Client

from eventflow import fastlane, limits, tenancy
from eventflow.chat import feed, lane
from tests.conftest import checkouts
from tests.lanes import answered_key, comparable, redis_commands, refused_alike_over_the_limit, send

FEEDS = ("messages", "questions")
CALLERS = ("viewer", "admin", "writer", "other tenant's admin")
CURSORS = ("marker", "inside", "start", "ahead")
QUERIES = {"messages": ("", "&limit=1", "&limit=0"), "questions": ("", "&limit=1", "&status=answered")}
REQUEST_IDS = ("none", "client-given.1", "not sane!")
CASES = [
    (feed, caller, cursor, query)
    for feed in FEEDS
    for caller, cursor, query in itertools.product(CALLERS, CURSORS, QUERIES[feed])
]


def rule(feed):
    return f"/api/webinars/<uuid:webinar_id>/{feed}"


@pytest.fixture
def lanes(app, monkeypatch):
    """(Flask lane, fast lane) of the session's app, the webinar kept in memory throughout."""
    monkeypatch.setattr(tenancy, "LOCAL_CACHE_SECONDS", 600.0)
    flask_lane = app.wsgi_app.next
    return Client(flask_lane), Client(fastlane.FastLane(app, flask_lane, lane.routes(app)))


def history(client, tenant):
    """A webinar's chat and Q&A with something of everything: messages one of which is hidden, a
    private and a public question, the public one answered, pinned and upvoted. Returns the
    writers' headers by feed (the poster, the asker)."""
    admin = tenant.client_admin()
    base = f"/api/webinars/{tenant.webinar_id}"
    _, poster = tenant.participant(name="Poster")
    _, asker = tenant.participant(name="Asker")
    _, voter = tenant.participant(name="Voter")
    ids = [client.post(f"{base}/messages", json={"body": f"m{n}"}, headers=poster).json["id"] for n in range(3)]
    assert client.patch(f"{base}/messages/{ids[1]}", json={"hidden": True}, headers=admin).status_code == 200
    client.post(f"{base}/questions", json={"body": "private?", "is_public": False}, headers=asker)
    public = client.post(f"{base}/questions", json={"body": "public?"}, headers=asker).json["id"]
    answer = {"answer": "yes", "pinned": True}
    assert client.patch(f"{base}/questions/{public}", json=answer, headers=admin).status_code == 200
    assert client.post(f"{base}/questions/{public}/upvote", headers=voter).status_code == 200
    return {"messages": poster, "questions": asker}


@pytest.mark.parametrize("case", range(len(CASES)), ids=["-".join(case) for case in CASES])
def test_both_lanes_give_the_same_answer(client, make_tenant, lanes, case):
    feed, caller, cursor_kind, query = CASES[case]
    request_id = REQUEST_IDS[case % len(REQUEST_IDS)]
    by_flask, by_fast_lane = lanes
    tenant = make_tenant()
    writers = history(client, tenant)
    path = f"/api/webinars/{tenant.webinar_id}/{feed}"
    # A viewer's first poll reads the window into this process and raises the marker.
    head = int(by_flask.get(f"{path}?limit=200", headers=tenant.participant(name="First")[1]).json["next"])
    cursor = {"marker": head, "inside": head - 2, "start": 0, "ahead": head + 5}[cursor_kind]
    headers = {
        "viewer": tenant.participant(name="Caller")[1],
        "admin": tenant.agency_admin(),
        "writer": writers[feed],
        "other tenant's admin": make_tenant().client_admin(),
    }[caller]
    if request_id != "none":
        headers = headers | {"X-Request-Id": request_id}
    path = f"{path}?after={cursor}{query}"

    flask_answer, flask_counts, flask_metrics = send(by_flask, path, headers)
    fast_answer, fast_counts, fast_metrics = send(by_fast_lane, path, headers)

    from_memory = query != "&limit=0" and (
        (caller in ("viewer", "admin") and cursor_kind != "ahead") or (caller == "writer" and cursor_kind == "marker")
    )
    assert fast_metrics.pop(answered_key(rule(feed)), 0) == int(from_memory)
    assert comparable(fast_answer, request_id) == comparable(flask_answer, request_id)
    assert fast_counts == flask_counts
    assert fast_metrics == flask_metrics
    expected_status = 422 if query == "&limit=0" else 404 if caller == "other tenant's admin" else 200
    assert flask_answer.status_code == expected_status
    if expected_status == 200:
        assert sorted(flask_counts.values()) == [1, 1]
    if expected_status == 200 and query == "" and cursor_kind != "ahead":
        assert flask_answer.json["next"] == str(head)


def test_a_caller_over_the_limit_is_refused_and_counted_as_by_flask(client, make_tenant, lanes, monkeypatch):
    tenant = make_tenant()
    history(client, tenant)
    _, headers = tenant.participant(name="Caller")
    path = f"/api/webinars/{tenant.webinar_id}/questions?after=0"
    refused_alike_over_the_limit(
        lanes, path, headers, limits.QUESTIONS_POLL, answered_key(rule("questions")), monkeypatch
    )


def test_a_busy_chat_is_polled_in_the_lane_with_no_connection_and_at_most_a_redis_read(app, make_tenant, monkeypatch):
    client = app.test_client()
    tenant = make_tenant()
    history(client, tenant)
    viewers = [tenant.participant(name=f"Viewer {n}")[1] for n in range(20)]
    path = f"/api/webinars/{tenant.webinar_id}/messages"
    cursor = client.get(f"{path}?after=0", headers=viewers[0]).json["next"]
    assert client.post(path, json={"body": "news"}, headers=viewers[0]).status_code == 201
    assert client.get(f"{path}?after={cursor}", headers=viewers[0]).json["messages"][0]["body"] == "news"
    sent = redis_commands(monkeypatch)
    answered = answered_key(rule("messages"))
    in_lane = send(client, f"{path}?after={cursor}", viewers[1])[2].get(answered, 0)
    assert in_lane == 1, "the poll inside the window was not answered in the fast lane"
    connections = checkouts(app)
    pages = [client.get(f"{path}?after={cursor}", headers=viewer).json for viewer in viewers[2:]]
    assert all(page["messages"][0]["body"] == "news" for page in pages)
    assert checkouts(app) == connections
    # At most one marker read per poll (none while this process's last is recent); the limit
    # counters are shared every 0.1 s in batches.
    assert len(sent) < 1 + len(viewers) + 10, f"{len(sent)} Redis commands for {len(viewers) - 1} polls"


def test_a_change_reaches_lane_polls_at_once_where_it_was_made_and_within_the_recent_marker_elsewhere(
    make_app, make_tenant
):
    # "Within" is the whole test, until the second's recent markers are made to have aged.
    first, second = make_app().test_client(), make_app(feed_marker_recent_seconds=60.0).test_client()
    tenant = make_tenant()
    _, viewer = tenant.participant(name="Viewer")
    path = f"/api/webinars/{tenant.webinar_id}/messages"
    assert first.post(path, json={"body": "hello"}, headers=viewer).status_code == 201
    cursor = first.get(f"{path}?after=0", headers=viewer).json["next"]
    assert second.get(f"{path}?after=0", headers=viewer).json["next"] == cursor  # it knows the marker now
    assert first.post(path, json={"body": "news"}, headers=viewer).status_code == 201

    assert [m["body"] for m in first.get(f"{path}?after={cursor}", headers=viewer).json["messages"]] == ["news"]
    assert second.get(f"{path}?after={cursor}", headers=viewer).json == {"messages": [], "removed": [], "next": cursor}
    second.application.extensions[feed.EXTENSION_KEY].seconds = 0.0  # the time has passed
    assert [m["body"] for m in second.get(f"{path}?after={cursor}", headers=viewer).json["messages"]] == ["news"]


@pytest.mark.parametrize("endpoint", ["chat.Messages", "chat.Questions"])
def test_the_lane_lists_exactly_the_apps_after_request_hooks(app, endpoint):
    assert sorted(fastlane.after_request_hooks(app, endpoint)) == sorted(fastlane.AFTER_REQUEST)


def test_a_chat_blueprint_hook_the_lane_does_not_honour_stops_it(make_app):
    app = make_app()

    def add_a_header(response):
        response.headers["X-New"] = "1"
        return response

    app.after_request_funcs.setdefault("chat", []).append(add_a_header)
    with pytest.raises(RuntimeError, match="add_a_header"):
        fastlane.FastLane(app, app.wsgi_app.next, lane.routes(app))
