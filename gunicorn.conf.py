"""gunicorn settings for production and for `eventflow serve`; every value can be overridden
from the environment (GUNICORN_BIND, GUNICORN_WORKERS, GUNICORN_THREADS)."""

import multiprocessing
import os

from eventflow.gunicorn_hooks import child_exit, on_starting, post_worker_init  # noqa: F401 (gunicorn reads them)
from eventflow.http import close_after_unread_body

bind = os.environ.get("GUNICORN_BIND", "127.0.0.1:8000")
# Requests are short and mostly wait on Redis or PostgreSQL: a few threads per process, twice the
# database connections a process may hold (EVENTFLOW_DB_POOL_MAX, 4): however many requests wait
# on PostgreSQL, half the threads are left to those that need no database (README: "Overload").
workers = int(os.environ.get("GUNICORN_WORKERS", multiprocessing.cpu_count() * 2))
threads = int(os.environ.get("GUNICORN_THREADS", 8))
worker_class = "gthread"
# One listening socket shared by the workers (gunicorn's default), though the first worker to
# wake accepts: behind a proxy's small keep-alive pool the workers are unevenly loaded (the bench
# saw 50/12/2/0 connections on four workers). reuse_port would spread them, but a worker killed
# with connections still in its own socket's backlog resets them all; test_live_server's killed
# worker then failed more than its in-flight requests. Losing no accepted connection matters more.
reuse_port = False
# A request never legitimately takes long: the database statement timeout is 5 s.
timeout = 30
graceful_timeout = 20
keepalive = 5
# Bounded request lines and headers; bodies are bounded by the app (MAX_CONTENT_LENGTH).
limit_request_line = 4096
limit_request_fields = 50
limit_request_field_size = 8190
# After a body the app refuses or cannot read whole, the connection is closed, and says so.
pre_request = close_after_unread_body
accesslog = os.environ.get("GUNICORN_ACCESSLOG")  # off unless asked: the hot path is loud
wsgi_app = "wsgi:app"
