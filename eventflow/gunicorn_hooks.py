"""Server hooks both gunicorn configurations (gunicorn.conf.py, gunicorn_stream.conf.py) use.

Prometheus in multiprocess mode (eventflow/metrics.py): with PROMETHEUS_MULTIPROC_DIR set, each
worker writes its metrics there; a server starts from an empty directory (so each process type
needs its own) and drops a dead worker's gauges.

A worker is made ready before it accepts a connection (post_worker_init): it answers its own
readiness probe once, which compiles the routes, builds what Flask and the extensions build on
the first request, opens the database pool and connects to Redis. Otherwise the first requests
of a worker started under load (a deploy, a replaced worker) paid for all that together and
queued past the request start bound. Then everything the worker has made so far (the app, its
modules, schemas and routes: hundreds of thousands of objects that live as long as the worker)
is frozen out of the garbage collector: otherwise each full collection walks them all again,
holding the GIL (the bench measured 80-117 ms per collection during a crowd, a stall of every
thread of the worker)."""

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
    readiness = worker.wsgi.test_client().get("/readyz")
    if readiness.status_code != 200:
        # Serving all the same: the pool and the breaker deal with a dependency that is down.
        worker.log.warning("worker started while not ready: %s", readiness.get_data(as_text=True))
    gc.freeze()
