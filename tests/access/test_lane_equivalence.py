"""The stats/access fast lane against the Flask view it stands in front of: the same requests,
generated over every kind of poll, sent through each lane must give the same status, headers
(the request id aside when the caller's is not kept), body, rate-limit counts and metric
increments. And the lane must refuse to run beside an after_request hook it does not honour."""

import itertools
import uuid

import pytest
from prometheus_client import REGISTRY
from werkzeug.test import Client

from eventflow import shared_documents, tenancy
from eventflow.access import fastlane, snapshot
from eventflow.limits import limiter

VIEWER_LIMIT = 2  # the slice participants see of others: smaller than the crowd below
FAST_LANE_METRIC = "eventflow_fast_lane_requests_total"
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
    return Client(flask_lane), Client(fastlane.FastLane(app, flask_lane))


def samples():
    """Every sample of the app's metrics whose value does not depend on timing."""
    taken = {}
    for family in REGISTRY.collect():
        for sample in family.samples:
            if not sample.name.startswith("eventflow_") or sample.name.endswith(("_created", "_sum", "_bucket")):
                continue
            taken[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return taken


def rate_counts(user_id):
    storage = limiter.storage
    return {key: storage.get(key) for key in list(storage._windows) if str(user_id) in key}


def send(client, path, headers, user_id):
    """The answer and what it changed: (status, headers, body), rate-limit counts, metrics."""
    metrics_before, counts_before = samples(), rate_counts(user_id)
    response = client.get(path, headers=headers)
    metrics_after, counts_after = samples(), rate_counts(user_id)
    metric_changes = {
        key: metrics_after.get(key, 0) - metrics_before.get(key, 0)
        for key in metrics_after.keys() | metrics_before.keys()
        if metrics_after.get(key, 0) != metrics_before.get(key, 0)
    }
    count_changes = {
        key: counts_after[key] - counts_before.get(key, 0)
        for key in counts_after
        if counts_after[key] != counts_before.get(key, 0)
    }
    return response, count_changes, metric_changes


def comparable(response, request_id_given):
    headers = dict(response.headers)
    request_id = headers.pop("X-Request-Id")
    if request_id_given == "client-given.1":
        assert request_id == request_id_given
    else:
        assert request_id and request_id != request_id_given
    return response.status_code, headers, response.get_data()


def crowd(client, tenant, session_kind):
    """Three earlier viewers and the caller (the fourth: outside the slice others see)."""
    track = f"/api/webinars/{tenant.webinar_id}/access/track"
    for name in ("First", "Second", "Third"):
        assert client.post(track, headers=tenant.participant(name=name)[1]).status_code == 201
    user_id, headers = tenant.participant(name="Caller")
    if session_kind == "never tracked":
        return user_id, headers, str(uuid.uuid4())
    older = client.post(track, headers=headers).json["session_id"]
    current = client.post(track, headers=headers).json["session_id"] if session_kind == "older" else older
    return user_id, headers, {"none": None, "current": current, "older": older}[session_kind]


@pytest.mark.parametrize("session_kind, etag_kind, request_id", list(itertools.product(SESSIONS, ETAGS, REQUEST_IDS)))
def test_both_lanes_give_the_same_answer(client, make_tenant, lanes, session_kind, etag_kind, request_id):
    by_flask, by_fast_lane = lanes
    tenant = make_tenant()
    user_id, headers, session_id = crowd(client, tenant, session_kind)
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

    flask_answer, flask_counts, flask_metrics = send(by_flask, path, headers, user_id)
    fast_answer, fast_counts, fast_metrics = send(by_fast_lane, path, headers, user_id)

    assert fast_metrics.pop((FAST_LANE_METRIC, ())) == 1, "the fast lane did not answer"
    assert flask_answer.status_code == (304 if etag_kind == "current" else 200)
    assert comparable(fast_answer, request_id) == comparable(flask_answer, request_id)
    assert fast_counts == flask_counts and sorted(flask_counts.values()) == [1, 1]
    assert fast_metrics == flask_metrics


def test_a_caller_over_the_limit_is_refused_and_counted_as_by_flask(client, make_tenant, lanes):
    by_flask, by_fast_lane = lanes
    tenant = make_tenant()
    user_id, headers, _ = crowd(client, tenant, "none")
    path = f"/api/webinars/{tenant.webinar_id}/stats/access"
    assert by_flask.get(path, headers=headers).status_code == 200
    assert {by_fast_lane.get(path, headers=headers).status_code for _ in range(59)} == {200}

    flask_answer, flask_counts, flask_metrics = send(by_flask, path, headers, user_id)
    fast_answer, fast_counts, fast_metrics = send(by_fast_lane, path, headers, user_id)

    assert flask_answer.status_code == 429 and int(flask_answer.headers["Retry-After"]) > 0
    assert comparable(fast_answer, "none") == comparable(flask_answer, "none")
    assert fast_counts == flask_counts and list(flask_counts.values()) == [1]
    assert fast_metrics == flask_metrics and (FAST_LANE_METRIC, ()) not in fast_metrics


def test_the_lane_lists_exactly_the_apps_after_request_hooks(app):
    assert sorted(fastlane.after_request_hooks(app)) == sorted(fastlane.AFTER_REQUEST)


def test_an_after_request_hook_the_lane_does_not_honour_stops_it(make_app):
    app = make_app()

    @app.after_request
    def add_a_header(response):
        response.headers["X-New"] = "1"
        return response

    with pytest.raises(RuntimeError, match="add_a_header"):
        fastlane.FastLane(app, app.wsgi_app.next)
