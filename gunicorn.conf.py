"""gunicorn settings for production and for `eventflow serve`; every value can be overridden
from the environment (GUNICORN_BIND, GUNICORN_WORKERS, GUNICORN_THREADS)."""

import multiprocessing
import os

bind = os.environ.get("GUNICORN_BIND", "127.0.0.1:8000")
# Two threads per process: a request waiting on PostgreSQL (a ping's commit) does not hold up
# the polls behind it, and there are too few threads to fight over the GIL. Measured with the
# bench crowd at N = 4,000 (bench/RESULTS.md): 4 threads cost 26 % more CPU and doubled the p99;
# 1 thread queued polls behind the database writes (p99 2.2 times).
workers = int(os.environ.get("GUNICORN_WORKERS", multiprocessing.cpu_count() * 2))
threads = int(os.environ.get("GUNICORN_THREADS", 2))
worker_class = "gthread"
# A request never legitimately takes long: the database statement timeout is 5 s.
timeout = 30
graceful_timeout = 20
keepalive = 5
# Bounded request lines and headers; bodies are bounded by the app (MAX_CONTENT_LENGTH).
limit_request_line = 4096
limit_request_fields = 50
limit_request_field_size = 8190
accesslog = os.environ.get("GUNICORN_ACCESSLOG")  # off unless asked: the hot path is loud
wsgi_app = "wsgi:app"


# Prometheus in multiprocess mode (eventflow/metrics.py): with PROMETHEUS_MULTIPROC_DIR set, each
# worker writes its metrics there; start from an empty directory and drop a dead worker's gauges.
def on_starting(server):
    directory = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if directory:
        os.makedirs(directory, exist_ok=True)
        for name in os.listdir(directory):
            if name.endswith(".db"):
                os.remove(os.path.join(directory, name))


def child_exit(server, worker):
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(worker.pid)
