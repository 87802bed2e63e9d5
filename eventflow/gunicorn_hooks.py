"""Server hooks both gunicorn configurations (gunicorn.conf.py, gunicorn_stream.conf.py) use.

Prometheus in multiprocess mode (eventflow/metrics.py): with PROMETHEUS_MULTIPROC_DIR set, each
worker writes its metrics there; a server starts from an empty directory (so each process type
needs its own) and drops a dead worker's gauges.

Once a worker has loaded the app, everything it has made so far (the app, its modules, schemas
and routes: hundreds of thousands of objects that live as long as the worker) is frozen out of
the garbage collector. Otherwise each full collection walks them all again, holding the GIL: the
bench measured 80-117 ms per collection during a crowd, every thread of the worker stalled, and
its requests waited past the request start bound."""

import gc
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


def post_worker_init(worker):
    gc.freeze()
