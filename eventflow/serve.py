"""`eventflow serve`: the whole service on one machine, as production runs it — the nginx front
(eventflow/front.py) before gunicorn, an rq worker and the rq cron schedule — supervised until
one of them exits or the command is interrupted. `start_web` starts the gunicorn part alone, as
the tests and the tenant soak run it."""

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


def commands(settings, bind):
    python = sys.executable
    return {
        "web": [python, "-m", "gunicorn", "-c", "gunicorn.conf.py", "--bind", bind],
        "worker": [python, "-m", "rq.cli", "worker", "--url", settings.redis_url, *QUEUES],
        "schedule": [python, "-m", "rq.cli", "cron", "--url", settings.redis_url, "jobs/schedule.py"],
    }


def start_web(settings, bind, workers, output=subprocess.DEVNULL, env=None):
    """gunicorn with gunicorn.conf.py, as ops run it, on `bind`, with `env` added to its
    environment; returns once /healthz answers."""
    env = child_environment(settings) | {"GUNICORN_BIND": bind, "GUNICORN_WORKERS": str(workers)} | (env or {})
    master = subprocess.Popen(commands(settings, bind)["web"], cwd=PROJECT_DIR, env=env, stdout=output, stderr=output)
    deadline = time.monotonic() + READY_SECONDS
    while not front.answers(f"http://{bind}/healthz"):
        if master.poll() is not None:
            raise RuntimeError(f"gunicorn exited with status {master.returncode} at start")
        if time.monotonic() > deadline:
            master.kill()
            raise RuntimeError(f"gunicorn did not answer on {bind} within {READY_SECONDS} s")
        time.sleep(0.1)
    return master


def run(settings, bind, echo=print, with_front=True):
    """Serve on `bind`: through the nginx front to gunicorn on a private unix socket, or with
    `with_front=False` gunicorn itself on `bind` (no slow-client defence: README)."""
    env = child_environment(settings)
    argvs = commands(settings, bind)
    if with_front:
        prefix = Path(settings.state_dir) / "front"
        upstream = f"unix:{prefix / 'web.sock'}"
        argvs["front"] = front.command(bind, upstream, prefix)
        argvs["web"] = commands(settings, upstream)["web"]
        env["EVENTFLOW_TRUSTED_PROXIES"] = "1"  # the front sets X-Forwarded-For
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
