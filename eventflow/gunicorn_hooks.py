"""Server hooks both gunicorn configurations (gunicorn.conf.py, gunicorn_stream.conf.py) use.

Prometheus in multiprocess mode (eventflow/metrics.py): with PROMETHEUS_MULTIPROC_DIR set, each
worker writes its metrics there; a server starts from an empty directory (so each process type
needs its own) and drops a dead worker's gauges."""

import os


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
