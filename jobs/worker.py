"""What every job shares: queue names, the worker's database connection, the job decorator."""

import functools
import logging
import os
import time
from dataclasses import dataclass

import psycopg
from psycopg.rows import dict_row

from eventflow import metrics

# Queue names in one list, most urgent first: `rq worker` serves them in this order.
QUEUES = ("maintenance", "rollups")
MAINTENANCE, ROLLUPS = QUEUES

# A rollup that needs longer than this is stuck, not busy.
JOB_STATEMENT_TIMEOUT_MS = 120_000
# Between in-process attempts after a transient database error (a dropped connection, a
# serialization failure, a deadlock): short, so that retries fit inside the job's timeout.
RETRY_BACKOFF_SECONDS = (1, 3, 10)

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class JobSpec:
    queue: str
    timeout: int  # seconds, enforced by the rq worker
    retries: int = 0  # attempts after the first one fails with a transient database error


def job(queue, timeout, retries=0):
    """Fix a job's queue, timeout and retries where it is defined; the schedule reads them here.

    Retries happen in the job itself, on errors that say "try again" (a lost connection, a
    serialization failure, a deadlock), because `rq cron` enqueues without RQ's Retry. A
    statement timeout is not retried: the same statement would time out again, past the job's
    own timeout. Every job is idempotent, so a retry, or the next scheduled run, redoes it."""

    def decorate(fn):
        @functools.wraps(fn)
        def run(*args, **kwargs):
            started = time.monotonic()
            for attempt in range(retries + 1):
                try:
                    result = fn(*args, **kwargs)
                    break
                except psycopg.errors.QueryCanceled:
                    metrics.JOB_FAILURES.labels(fn.__name__).inc()
                    raise
                except psycopg.OperationalError as exc:
                    if attempt == retries:
                        metrics.JOB_FAILURES.labels(fn.__name__).inc()
                        raise
                    pause = RETRY_BACKOFF_SECONDS[min(attempt, len(RETRY_BACKOFF_SECONDS) - 1)]
                    log.warning(
                        "%s failed (%s); retry %d in %ss", fn.__name__, exc.__class__.__name__, attempt + 1, pause
                    )
                    time.sleep(pause)
                except Exception:
                    metrics.JOB_FAILURES.labels(fn.__name__).inc()
                    raise
            metrics.JOB_DURATION.labels(fn.__name__).observe(time.monotonic() - started)
            return result

        run.job_spec = JobSpec(queue, timeout, retries)
        return run

    return decorate


def connect(env=None):
    """A connection as eventflow_worker (WORKER_DATABASE_URL)."""
    env = os.environ if env is None else env
    url = env.get("WORKER_DATABASE_URL")
    if not url:
        raise RuntimeError("WORKER_DATABASE_URL must be set: jobs connect as eventflow_worker")
    return psycopg.connect(
        url,
        row_factory=dict_row,
        connect_timeout=5,
        options=f"-c statement_timeout={JOB_STATEMENT_TIMEOUT_MS}",
    )
