"""The stats/access fast lane against the Flask view it stands in front of: the same requests,
generated over every kind of poll, sent through each lane must give the same status, headers
(the request id aside when the caller's is not kept), body, rate-limit counts and metric
increments. And the lane must refuse to run beside an after_request hook it does not honour."""

import itertools
import uuid

import pytest
from werkzeug.test import Client

from eventflow import fastlane, limits, shared_documents, tenancy
from eventflow.access import lane, snapshot
from tests.lanes import answered_key, comparable, refused_alike_over_the_limit, send

VIEWER_LIMIT = 2  # the slice participants see of others: smaller than the crowd below
ANSWERED = answered_key("/api/webinars/<uuid:webinar_id>/stats/access")
SESSIONS = ("none", "current", "older", "never tracked")  # superseded: null, false, true, null
ETAGS = ("none", "current", "other")
REQUEST_IDS = ("none", "client-given.1", "not sane!")


@pytest.fixture
def lanes(app, monkeypatch):
    """(Flask lane, fast lane) of the session's app, the viewer limit cut to VIEWER_LIMIT, and
    every cache the fast lane reads kept long enough that nothing expires between the two."""
    monkeypatch.setattr(shared_documents, "LOCAL_CHECK_SECONDS", 600.0)
    monkeypatch.setattr(tenancy, "LOCAL_CACHE_SECONDS", 600.0)
    monkeypatch.setattr(snapshot, "SESSION_VISIBLE_SECONDS", 0.0)  # the "older" session is told at once
    settings = app.extensions["eventflow.settings"]
    monkeypatch.setitem(
        app.extensions, "eventflow.settings", settings.with_overrides(participant_viewer_limit=VIEWER_LIMIT)
    )
    flask_lane = app.wsgi_app.next
    return Client(flask_lane), Client(fastlane.FastLane(app, flask_lane, [lane.StatsAccess(app)]))


def crowd(client, tenant, session_kind):
    """Three earlier viewers and the caller (the fourth: outside the slice others see)."""
    track = f"/api/webinars/{tenant.webinar_id}/access/track"
    for name in ("First", "Second", "Third"):
        assert client.post(track, headers=tenant.participant(name=name)[1]).status_code == 201
    _, headers = tenant.participant(name="Caller")
    if session_kind == "never tracked":
        return headers, str(uuid.uuid4())
    older = client.post(track, headers=headers).json["session_id"]
    current = client.post(track, headers=headers).json["session_id"] if session_kind == "older" else older
    return headers, {"none": None, "current": current, "older": older}[session_kind]


@pytest.mark.parametrize("session_kind, etag_kind, request_id", list(itertools.product(SESSIONS, ETAGS, REQUEST_IDS)))
def test_both_lanes_give_the_same_answer(client, make_tenant, lanes, session_kind, etag_kind, request_id):
    by_flask, by_fast_lane = lanes
    tenant = make_tenant()
    headers, session_id = crowd(client, tenant, session_kind)
    query = "" if session_id is None else f"?session_id={session_id}"
    path = f"/api/webinars/{tenant.webinar_id}/stats/access{query}"
    first = by_flask.get(path, headers=headers)  # builds the snapshot and caches the webinar
    assert first.status_code == 200
    expected = {"none": None, "current": False, "older": True, "never tracked": None}[session_kind]
    assert first.json["superseded"] is expected
    assert len(first.json["viewers"]) == VIEWER_LIMIT
    if session_kind != "never tracked":
        assert first.json["viewers"][0] == {**first.json["viewers"][0], "display_name": "Caller", "me": True}
    headers = dict(headers)
    if etag_kind != "none":
        headers["If-None-Match"] = first.headers["ETag"] if etag_kind == "current" else 'W/"other"'
    if request_id != "none":
        headers["X-Request-Id"] = request_id

    flask_answer, flask_counts, flask_metrics = send(by_flask, path, headers)
    fast_answer, fast_counts, fast_metrics = send(by_fast_lane, path, headers)

    assert fast_metrics.pop(ANSWERED) == 1, "the fast lane did not answer"
    assert flask_answer.status_code == (304 if etag_kind == "current" else 200)
    assert comparable(fast_answer, request_id) == comparable(flask_answer, request_id)
    assert fast_counts == flask_counts and sorted(flask_counts.values()) == [1, 1]
    assert fast_metrics == flask_metrics


def test_a_caller_over_the_limit_is_refused_and_counted_as_by_flask(client, make_tenant, lanes, monkeypatch):
    tenant = make_tenant()
    headers, _ = crowd(client, tenant, "none")
    path = f"/api/webinars/{tenant.webinar_id}/stats/access"
    refused_alike_over_the_limit(lanes, path, headers, limits.STATS_ACCESS, ANSWERED, monkeypatch)


def test_the_lane_lists_exactly_the_apps_after_request_hooks(app):
    assert sorted(fastlane.after_request_hooks(app, lane.StatsAccess.endpoint)) == sorted(fastlane.AFTER_REQUEST)


def test_an_after_request_hook_the_lane_does_not_honour_stops_it(make_app):
    app = make_app()

    @app.after_request
    def add_a_header(response):
        response.headers["X-New"] = "1"
        return response

    with pytest.raises(RuntimeError, match="add_a_header"):
        fastlane.FastLane(app, app.wsgi_app.next, [lane.StatsAccess(app)])
