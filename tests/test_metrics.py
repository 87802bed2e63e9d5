"""Ops: Prometheus metrics at /metrics, JSON log lines, and the request id."""

import io
import json
import logging

from eventflow import jsonlog, metrics


def _sample(text, name, **labels):
    wanted = ",".join(f'{k}="{v}"' for k, v in labels.items())
    for line in text.splitlines():
        if line.startswith(f"{name}{{{wanted}}}") or (not labels and line.startswith(f"{name} ")):
            return float(line.rsplit(" ", 1)[1])
    return None


def test_metrics_count_requests_per_endpoint_and_status(client, make_tenant):
    tenant = make_tenant()
    url = f"/api/webinars/{tenant.webinar_id}/stats"
    labels = {"endpoint": "/api/webinars/<uuid:webinar_id>/stats", "method": "GET", "status": "200"}
    before = _sample(client.get("/metrics").get_data(as_text=True), "eventflow_http_requests_total", **labels) or 0
    client.get(url, headers=tenant.client_admin())
    client.get(url, headers=tenant.participant()[1])
    text = client.get("/metrics").get_data(as_text=True)
    assert _sample(text, "eventflow_http_requests_total", **labels) == before + 1
    assert _sample(text, "eventflow_http_requests_total", **{**labels, "status": "403"}) >= 1
    latency = {"endpoint": labels["endpoint"], "method": "GET"}
    assert _sample(text, "eventflow_http_request_duration_seconds_count", **latency) >= 1


def test_metrics_show_rq_queues(client, app):
    from rq import Queue

    Queue("rollups", connection=app.extensions["eventflow.redis"]).enqueue("jobs.schedule.nothing_to_run")
    response = client.get("/metrics")
    assert response.status_code == 200 and response.mimetype == "text/plain"
    text = response.get_data(as_text=True)
    assert _sample(text, "eventflow_rq_queue_depth", queue="rollups") >= 1
    assert _sample(text, "eventflow_rq_failed_jobs", queue="maintenance") is not None
    assert _sample(text, "eventflow_rq_up") == 1
    Queue("rollups", connection=app.extensions["eventflow.redis"]).empty()


def test_metrics_count_cache_hits_misses_and_snapshot_rebuilds_of_real_requests(client, make_tenant):
    tenant = make_tenant()
    _, viewer = tenant.participant()
    url = f"/api/webinars/{tenant.webinar_id}/stats/access"
    figures = (
        ("eventflow_snapshot_rebuilds_total", {"snapshot": "stats_access"}),
        ("eventflow_cache_misses_total", {"cache": "stats_access"}),
        ("eventflow_cache_hits_total", {"cache": "stats_access"}),
        ("eventflow_cache_misses_total", {"cache": "webinar"}),
        ("eventflow_cache_hits_total", {"cache": "webinar"}),
    )

    def scrape():
        text = client.get("/metrics").get_data(as_text=True)
        return [_sample(text, name, **labels) or 0 for name, labels in figures]

    before = scrape()
    assert client.get(url, headers=viewer).status_code == 200  # a new webinar: looked up, snapshot built
    assert client.get(url, headers=viewer).status_code == 200  # the fast lane: this process's caches
    after = scrape()
    rebuilds, snapshot_misses, snapshot_hits, webinar_misses, webinar_hits = (
        a - b for a, b in zip(after, before, strict=True)
    )
    assert (rebuilds, snapshot_misses, snapshot_hits) == (1, 1, 1)
    # The first request looks its webinar up once, in the view (the rate-limit keys need no
    # lookup): a miss; the second, answered from memory before Flask, is a hit.
    assert (webinar_misses, webinar_hits) == (1, 1)
    breaker_state = _sample(
        client.get("/metrics").get_data(as_text=True), "eventflow_breaker_state", breaker="database-polls"
    )
    assert breaker_state == metrics.BREAKER_CLOSED  # its changes: tests/test_breaker.py, on a real outage


def test_metrics_can_require_a_token(make_app):
    app = make_app(metrics_token="scrape-me")
    client = app.test_client()
    assert client.get("/metrics").status_code == 401
    assert client.get("/metrics", headers={"Authorization": "Bearer wrong"}).status_code == 401
    assert client.get("/metrics", headers={"Authorization": "Bearer scrape-me"}).status_code == 200


def test_every_response_carries_a_request_id(client):
    generated = client.get("/healthz").headers["X-Request-Id"]
    assert len(generated) == 32
    assert client.get("/healthz", headers={"X-Request-Id": "lb-1234.abc"}).headers["X-Request-Id"] == "lb-1234.abc"
    hostile = client.get("/healthz", headers={"X-Request-Id": 'x"<{}>' + "a" * 200}).headers["X-Request-Id"]
    assert len(hostile) == 32
    assert client.get("/no/such/thing").headers["X-Request-Id"]


def test_log_lines_are_json_with_the_request_id(app):
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(jsonlog.JsonFormatter())
    log = logging.getLogger("eventflow.test")
    log.addHandler(handler)
    try:
        with app.test_request_context("/", headers={"X-Request-Id": "req-42"}):
            log.warning("webinar %s is busy", "w1", extra={"viewers": 20000})
        log.error("outside a request")
    finally:
        log.removeHandler(handler)
    first, second = (json.loads(line) for line in stream.getvalue().splitlines())
    assert first["message"] == "webinar w1 is busy" and first["request_id"] == "req-42"
    assert first["level"] == "WARNING" and first["viewers"] == 20000 and first["logger"] == "eventflow.test"
    assert "request_id" not in second


def test_made_up_methods_and_paths_add_no_series(client):
    """Issue 11 row 2: 2,000 requests with made-up methods grew /metrics from 59 KB to 2 MB.
    Unknown methods share one label value, unmatched paths another."""
    client.open("/healthz", method="QWERTYUIOP")
    client.get("/no/such/path")
    client.get("/metrics")  # so that the scrape's own series is in the next one
    before = client.get("/metrics").get_data(as_text=True)
    for i in range(2000):
        assert client.open("/healthz", method=f"MADEUP{i}").status_code == 405
    for i in range(500):
        assert client.get(f"/made/up/{i}").status_code == 404
    after = client.get("/metrics").get_data(as_text=True)
    assert _http_series(after) == _http_series(before)
    made_up = {"endpoint": metrics.UNMATCHED, "method": metrics.OTHER_METHOD, "status": "405"}
    assert _sample(after, "eventflow_http_requests_total", **made_up) >= 2001


def _http_series(text):
    return sorted(line.split(" ")[0] for line in text.splitlines() if line.startswith("eventflow_http_"))
