"""`eventflow serve`: the whole service on one machine, as production runs it — the nginx front
(eventflow/front.py) before gunicorn (the API) and the stream process (gunicorn's gevent worker,
for the event streams), an rq worker and the rq cron schedule — supervised until one of them
exits or the command is interrupted. `start_web` and `start_stream` start one gunicorn alone, as
the tests and the benches run them."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from eventflow import front
from jobs.worker import QUEUES

PROJECT_DIR = Path(__file__).resolve().parent.parent
READY_SECONDS = 30


def child_environment(settings):
    """The resolved settings, so that every child uses the same servers and secret. Jobs connect
    as eventflow_worker: there is no falling back to the web app's role."""
    if not settings.worker_database_url:
        raise RuntimeError("WORKER_DATABASE_URL must be set for the rq worker (eventflow_worker)")
    env = dict(os.environ)
    env.update(
        DATABASE_URL=settings.database_url,
        WORKER_DATABASE_URL=settings.worker_database_url,
        REDIS_URL=settings.redis_url,
        EVENTFLOW_JWT_SECRET=settings.jwt_secret,
        EVENTFLOW_JWT_AUDIENCE=settings.jwt_audience,
    )
    if settings.database_owner_url:
        env["DATABASE_OWNER_URL"] = settings.database_owner_url
    # Served on this machine (development, tests): /metrics is open unless a token is set.
    env.setdefault("EVENTFLOW_METRICS_PUBLIC", "1")
    return env


def commands(settings, bind, stream_bind):
    python = sys.executable
    return {
        "web": [python, "-m", "gunicorn", "-c", "gunicorn.conf.py", "--bind", bind],
        "stream": [python, "-m", "gunicorn", "-c", "gunicorn_stream.conf.py", "--bind", stream_bind],
        "worker": [python, "-m", "rq.cli", "worker", "--url", settings.redis_url, *QUEUES],
        "schedule": [python, "-m", "rq.cli", "cron", "--url", settings.redis_url, "jobs/schedule.py"],
    }


def start_web(settings, bind, workers, output=subprocess.DEVNULL, env=None):
    """gunicorn with gunicorn.conf.py, as ops run it, on `bind`, with `env` added to its
    environment; returns once /healthz answers."""
    return _start_gunicorn("web", settings, bind, workers, output, env)


def start_stream(settings, bind, workers, output=subprocess.DEVNULL, env=None):
    """The stream process (gunicorn_stream.conf.py, gevent workers) on `bind`, as start_web."""
    return _start_gunicorn("stream", settings, bind, workers, output, env)


def _start_gunicorn(name, settings, bind, workers, output, env):
    env = child_environment(settings) | {"GUNICORN_BIND": bind, "GUNICORN_WORKERS": str(workers)} | (env or {})
    argv = commands(settings, bind, bind)[name]
    master = subprocess.Popen(argv, cwd=PROJECT_DIR, env=env, stdout=output, stderr=output)
    deadline = time.monotonic() + READY_SECONDS
    while not front.answers(f"http://{bind}/healthz"):
        if master.poll() is not None:
            raise RuntimeError(f"gunicorn exited with status {master.returncode} at start")
        if time.monotonic() > deadline:
            master.kill()
            raise RuntimeError(f"gunicorn did not answer on {bind} within {READY_SECONDS} s")
        time.sleep(0.1)
    return master


def run(settings, bind, echo=print, with_front=True, stream_bind=None):
    """Serve on `bind`: through the nginx front to gunicorn and the stream process on private
    unix sockets, or with `with_front=False` gunicorn itself on `bind` and the stream process on
    `stream_bind` (no slow-client defence, and the pages then poll: README)."""
    env = child_environment(settings)
    argvs = commands(settings, bind, stream_bind)
    if with_front:
        prefix = Path(settings.state_dir) / "front"
        upstream, stream_upstream = f"unix:{prefix / 'web.sock'}", f"unix:{prefix / 'stream.sock'}"
        argvs["front"] = front.command(bind, upstream, prefix, stream_upstream)
        argvs |= commands(settings, upstream, stream_upstream)
        env["EVENTFLOW_TRUSTED_PROXIES"] = "1"  # the front sets X-Forwarded-For
    else:
        env["EVENTFLOW_PAGES_OFFER_STREAM"] = "0"  # nothing routes the stream to its process
    children = {name: subprocess.Popen(argv, cwd=PROJECT_DIR, env=env) for name, argv in argvs.items()}
    echo(f"serving on http://{bind} ({', '.join(children)} running; Ctrl-C stops all)")

    def stop(*_):
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, stop)
    try:
        while True:
            for name, child in children.items():
                if child.poll() is not None:
                    echo(f"{name} exited with status {child.returncode}; stopping the others")
                    return child.returncode or 1
            time.sleep(0.5)
    except KeyboardInterrupt:
        return 0
    finally:
        for child in children.values():
            if child.poll() is None:
                child.terminate()
        for child in children.values():
            try:
                child.wait(timeout=20)
            except subprocess.TimeoutExpired:
                child.kill()
