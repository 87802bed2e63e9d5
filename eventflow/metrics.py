"""Prometheus metrics at /metrics, and the counters other areas increment.

Under gunicorn, set PROMETHEUS_MULTIPROC_DIR (an empty directory per deployment; gunicorn.conf.py
wipes it on start and marks dead workers): prometheus_client then keeps each process's values in
files there and /metrics adds them up. Without it, each process reports its own (dev, tests).

Recorded where they happen: SNAPSHOT_REBUILDS and CACHE_HITS / CACHE_MISSES labelled
"stats_access" (the stats/access snapshot) and "stats" (the dashboard) by shared_documents.py,
"chat_window" by chat/window.py; CACHE_HITS / CACHE_MISSES{cache="webinar"} by tenancy.lookup_webinar,
the STREAM_ figures by stream/hub.py,
BREAKER_STATE{breaker="database-polls"} by breaker.py on each state change, FAST_LANE and the
request counts of the polls it answers by fastlane.py. Another area imports
this module and increments the same way.
RQ queue depth, failed and running jobs and live workers are read from Redis at scrape time.
"""

import hmac
import os
import time

import redis
from flask import Response, g, request
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.multiprocess import MultiProcessCollector

from eventflow import config

REQUESTS = Counter(
    "eventflow_http_requests_total",
    "HTTP requests answered, by endpoint, method and status",
    ["endpoint", "method", "status"],
)
LATENCY = Histogram(
    "eventflow_http_request_duration_seconds",
    "Time to answer an HTTP request (until the response is handed to the server), by endpoint and method",
    ["endpoint", "method"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)
SNAPSHOT_REBUILDS = Counter(
    "eventflow_snapshot_rebuilds_total", "Cached snapshots rebuilt from PostgreSQL", ["snapshot"]
)
CACHE_HITS = Counter("eventflow_cache_hits_total", "Reads answered from a cache", ["cache"])
CACHE_MISSES = Counter("eventflow_cache_misses_total", "Reads a cache could not answer", ["cache"])
FAST_LANE = Counter(
    "eventflow_fast_lane_requests_total",
    "Polls answered from process memory before Flask (stats/access, chat, Q&A), by endpoint",
    ["endpoint"],
)
SHED = Counter(
    "eventflow_shed_requests_total",
    "Requests refused at once (503) because they could not start within the bound, by reason",
    ["reason"],
)
SHED_LATE, SHED_BUSY_POOL = "waited_for_a_thread", "waited_for_a_connection"
# 0 closed (requests flow), 1 half-open (probing), 2 open (answering 503). With several
# processes the highest state of a live process is shown.
BREAKER_STATE = Gauge(
    "eventflow_breaker_state",
    "Circuit breaker state: 0 closed, 1 half-open, 2 open",
    ["breaker"],
    multiprocess_mode="livemax",
)
BREAKER_CLOSED, BREAKER_HALF_OPEN, BREAKER_OPEN = 0, 1, 2
# The event streams (stream/hub.py).
STREAMS_OPEN = Gauge("eventflow_stream_open", "Event streams open", multiprocess_mode="livesum")
STREAM_EVENTS_SENT = Counter("eventflow_stream_events_sent_total", "Events sent on streams", ["event"])
STREAM_FANOUT_LAG = Histogram(
    "eventflow_stream_fanout_lag_seconds",
    "From a change's publication to its events queued for every stream of its webinar in a process",
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5),
)
STREAM_DATABASE_READS = Counter(
    "eventflow_stream_database_reads_total", "Feed reads the streams made as one caller", ["reason"]
)
JOB_FAILURES = Counter("eventflow_job_failures_total", "RQ job runs that failed (after their retries)", ["job"])
JOB_DURATION = Histogram(
    "eventflow_job_duration_seconds",
    "Time a successful RQ job run took",
    ["job"],
    buckets=(0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300),
)

# Label values come from a fixed set, whatever clients send: every path that matches no route
# shares one endpoint value, every method outside HTTP's usual ones one method value, so made-up
# methods and paths cannot grow the series (and /metrics) without bound.
UNMATCHED = "<unmatched>"
KNOWN_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
OTHER_METHOD = "<other>"


class RQCollector:
    """Queue depth, failed and started jobs per queue, and live workers, read from Redis at
    scrape time so that every process reports the same, current figures."""

    def __init__(self, connection, queues):
        self.connection = connection
        self.queues = queues

    def collect(self):
        from rq import Queue, Worker

        depth = GaugeMetricFamily("eventflow_rq_queue_depth", "Jobs waiting in an RQ queue", labels=["queue"])
        failed = GaugeMetricFamily(
            "eventflow_rq_failed_jobs", "Jobs in an RQ queue's failed registry", labels=["queue"]
        )
        started = GaugeMetricFamily("eventflow_rq_started_jobs", "Jobs an RQ worker is running", labels=["queue"])
        workers = GaugeMetricFamily("eventflow_rq_workers", "RQ workers alive")
        up = GaugeMetricFamily("eventflow_rq_up", "1 when Redis answered the RQ figures")
        try:
            for name in self.queues:
                queue = Queue(name, connection=self.connection)
                depth.add_metric([name], queue.count)
                failed.add_metric([name], queue.failed_job_registry.count)
                started.add_metric([name], queue.started_job_registry.count)
            workers.add_metric([], len(Worker.all(connection=self.connection)))
            up.add_metric([], 1)
        except redis.RedisError:
            up.add_metric([], 0)
            yield up
            return
        yield from (depth, failed, started, workers, up)


class _ThisProcess:
    """This process's own metrics (single-process mode), as one collector."""

    def collect(self):
        return REGISTRY.collect()


def _registry(app):
    from jobs.worker import QUEUES

    registry = CollectorRegistry()
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        MultiProcessCollector(registry)
    else:
        registry.register(_ThisProcess())
    registry.register(RQCollector(app.extensions["eventflow.redis"], QUEUES))
    return registry


def count_request_of(endpoint, method, status, started):
    """Count one answered request; `started` is its time.perf_counter() on arrival."""
    method = method if method in KNOWN_METHODS else OTHER_METHOD
    LATENCY.labels(endpoint, method).observe(time.perf_counter() - started)
    REQUESTS.labels(endpoint, method, str(status)).inc()


def _endpoint():
    rule = request.url_rule
    return rule.rule if rule is not None else UNMATCHED


def init_app(app, settings):
    app.extensions["eventflow.metrics_registry"] = None

    @app.before_request
    def start_timer():
        g.metrics_started = time.perf_counter()

    @app.after_request
    def count_request(response):
        started = g.pop("metrics_started", None)
        if started is not None:
            count_request_of(_endpoint(), request.method, response.status_code, started)
        return response

    @app.get("/metrics")
    def metrics_endpoint():
        token = config.current().metrics_token
        if token:
            scheme, _, given = request.headers.get("Authorization", "").partition(" ")
            if scheme.lower() != "bearer" or not hmac.compare_digest(given.strip().encode(), token.encode()):
                return Response(
                    "metrics need the bearer token of EVENTFLOW_METRICS_TOKEN\n", 401, mimetype="text/plain"
                )
        registry = app.extensions["eventflow.metrics_registry"]
        if registry is None:
            registry = app.extensions["eventflow.metrics_registry"] = _registry(app)
        return Response(generate_latest(registry), mimetype=CONTENT_TYPE_LATEST, headers={"Cache-Control": "no-store"})
