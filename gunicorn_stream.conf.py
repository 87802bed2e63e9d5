"""gunicorn settings of the stream process (the Procfile's `stream`, `eventflow serve`): the
event streams (GET /api/webinars/<id>/events) on gevent workers, where an idle stream costs a
greenlet and a socket instead of a thread. Overridable from the environment like
gunicorn.conf.py (GUNICORN_BIND, GUNICORN_WORKERS); README: "The live stream"."""

import multiprocessing
import os
import resource

from eventflow import gunicorn_hooks
from eventflow.config import Settings
from eventflow.gunicorn_hooks import child_exit  # noqa: F401 (gunicorn reads it)

bind = os.environ.get("GUNICORN_BIND", "127.0.0.1:8001")
workers = int(os.environ.get("GUNICORN_WORKERS", multiprocessing.cpu_count()))
worker_class = "gevent"
# gevent's pool per worker: above the app's own cap (EVENTFLOW_STREAM_MAX_CONNECTIONS), so that a
# full process still answers the next stream a fast 503 and /metrics still gets in.
worker_connections = Settings.from_env().stream_max_connections + 100
# A stream lives for hours; the worker's heartbeat to the master is independent of it.
timeout = 30
# A graceful stop (SIGTERM, SIGHUP's reload) ends every stream with a short retry: within a second
# (stream/hub.py), well inside this.
graceful_timeout = 10
keepalive = 5
limit_request_line = 4096
limit_request_fields = 50
limit_request_field_size = 8190
accesslog = os.environ.get("GUNICORN_ACCESSLOG")
wsgi_app = "wsgi:app"


def on_starting(server):
    # One descriptor per stream: take every descriptor the hard limit allows (the workers inherit
    # it); the app caps its streams below what is left (hub.stream_cap).
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    gunicorn_hooks.on_starting(server)


def post_worker_init(worker):
    from eventflow.stream import hub

    hub.watch_worker(worker)
    gunicorn_hooks.post_worker_init(worker)
