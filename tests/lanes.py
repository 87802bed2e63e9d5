"""What the lane-equivalence tests compare: a request sent through the Flask lane and through the
fast lane must give the same status, headers (the request id aside when the caller's is not
kept), body, rate-limit counts and metric increments."""

import jwt
from prometheus_client import REGISTRY

from eventflow.limits import limiter

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
    storage = limiter.storage
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
