"""What the lane-equivalence tests compare: a request sent through the Flask lane and through the
fast lane must give the same status, headers (the request id aside when the caller's is not
kept), body, rate-limit counts and metric increments."""

import time
from types import SimpleNamespace

import jwt
import redis
from prometheus_client import REGISTRY

from eventflow import limits

FAST_LANE_METRIC = "eventflow_fast_lane_requests_total"


def answered_key(rule):
    """The key of the fast lane's counter for `rule` in a send's metric changes."""
    return (FAST_LANE_METRIC, (("endpoint", rule),))


def samples():
    """Every sample of the app's metrics whose value does not depend on timing."""
    taken = {}
    for family in REGISTRY.collect():
        for sample in family.samples:
            if not sample.name.startswith("eventflow_") or sample.name.endswith(("_created", "_sum", "_bucket")):
                continue
            taken[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return taken


def caller_id(headers):
    """The user id of the caller whose bearer token `headers` carry (the token's subject)."""
    token = headers["Authorization"].removeprefix("Bearer ")
    return jwt.decode(token, options={"verify_signature": False})["sub"]


def rate_counts(user_id):
    storage = limits.limiter.storage
    return {key: storage.get(key) for key in list(storage._windows) if str(user_id) in key}


def send(client, path, headers):
    """The answer and what it changed: (status, headers, body), rate-limit counts, metrics."""
    user_id = caller_id(headers)
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


def refused_alike_over_the_limit(lanes, path, headers, limit, answered, monkeypatch):
    """Spend the caller's `limit` ("60 per minute": once through Flask, then through the fast
    lane), and check that the next request is refused alike by both lanes: the same 429 with
    Retry-After, counted once each, and not answered by the fast lane (its counter `answered`)."""
    by_flask, by_fast_lane = lanes
    allowed = int(limit.split()[0])
    assert by_flask.get(path, headers=headers).status_code == 200
    assert {by_fast_lane.get(path, headers=headers).status_code for _ in range(allowed - 1)} == {200}
    # Retry-After is the window's end less the clock, rounded up, and each sync with Redis sets
    # the window's end again from Redis's time to live: two answers a few ms apart differ by a
    # second whenever a second boundary falls between them. Both are answered with one clock,
    # and no sync between them.
    now = time.time()
    monkeypatch.setattr(limits, "time", SimpleNamespace(time=lambda: now))
    with limits.limiter.storage._sync_lock:
        flask_answer, flask_counts, flask_metrics = send(by_flask, path, headers)
        fast_answer, fast_counts, fast_metrics = send(by_fast_lane, path, headers)

    assert flask_answer.status_code == 429 and int(flask_answer.headers["Retry-After"]) > 0
    assert comparable(fast_answer, "none") == comparable(flask_answer, "none")
    assert fast_counts == flask_counts and list(flask_counts.values()) == [1]
    assert fast_metrics == flask_metrics and answered not in fast_metrics


def redis_commands(monkeypatch):
    """A list that, from now on, gets every command this process sends to any Redis (counted at
    the driver)."""
    sent = []
    send_command = redis.connection.Connection.send_packed_command

    def counted(connection, command, *args, **kwargs):
        sent.append(command)
        return send_command(connection, command, *args, **kwargs)

    monkeypatch.setattr(redis.connection.Connection, "send_packed_command", counted)
    return sent
