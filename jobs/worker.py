"""What every job shares: queue names, the worker's database connection, the job decorator."""

import os
from dataclasses import dataclass

import psycopg
from psycopg.rows import dict_row

# Queue names in one list, most urgent first: `rq worker` serves them in this order.
QUEUES = ("maintenance", "rollups")
MAINTENANCE, ROLLUPS = QUEUES

# A rollup that needs longer than this is stuck, not busy.
JOB_STATEMENT_TIMEOUT_MS = 120_000


@dataclass(frozen=True)
class JobSpec:
    queue: str
    timeout: int  # seconds, enforced by the rq worker


def job(queue, timeout):
    """Fix a job's queue and timeout where it is defined; the schedule reads them from here."""

    def decorate(fn):
        fn.job_spec = JobSpec(queue, timeout)
        return fn

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
