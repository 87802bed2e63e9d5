"""An rq worker killed with SIGKILL in the middle of a rollup: nothing of it is committed, the job
is visibly failed as abandoned, and the next scheduled run leaves exact figures. Real worker
processes, real Redis and PostgreSQL, jobs enqueued the way `rq cron` enqueues them."""

import signal
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta

import psutil
import psycopg
import redis
from psycopg.rows import dict_row
from rq import Queue
from rq.cron import CronJob
from rq.job import JobStatus
from rq.registry import FailedJobRegistry, StartedJobRegistry

from eventflow.serve import PROJECT_DIR, child_environment
from jobs.access_logs import rollup_access_logs
from jobs.worker import ROLLUPS
from tests import brute_force

# A Redis database of its own, so that no other test's jobs are in these queues.
REDIS_DB = 7


def _wait_for(condition, what, timeout=20):
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)


def _worker_backends(owner):
    return owner.execute(
        "select pid, wait_event_type from pg_stat_activity where usename = 'eventflow_worker'"
    ).fetchall()


def test_a_worker_killed_mid_rollup_is_retried_and_the_rerun_is_exact(services, settings, owner, make_tenant):
    tenant = make_tenant()
    start = brute_force.bucket_of(datetime.now(UTC) - timedelta(hours=2)) + timedelta(seconds=11)
    sessions = brute_force.generate_sessions(tenant.webinar_id, start, 60, viewers=25, seed=9)
    brute_force.insert_sessions(owner, tenant, sessions)

    redis_url = f"{services['redis_url']}?db={REDIS_DB}"
    connection = redis.Redis.from_url(redis_url)
    connection.flushdb()
    env = child_environment(settings.with_overrides(redis_url=redis_url))
    worker_command = [sys.executable, "-m", "rq.cli", "worker", "--burst", "--url", redis_url, ROLLUPS]
    # As jobs/schedule.py registers it, narrowed to this test's webinar.
    scheduled = CronJob(
        ROLLUPS,
        rollup_access_logs,
        kwargs={"webinar_ids": [tenant.webinar_id]},
        interval=60,
        job_timeout=rollup_access_logs.job_spec.timeout,
    )
    job = scheduled.enqueue(connection)

    with psycopg.connect(services["owner_url"], row_factory=dict_row) as blocker:
        # The rollup computes its figures, then waits here to write them: mid-job.
        blocker.execute("lock table webinar_access_logs in share mode")
        worker = subprocess.Popen(
            worker_command,
            cwd=PROJECT_DIR,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        _wait_for(lambda: any(b["wait_event_type"] == "Lock" for b in _worker_backends(owner)), "the job's write")
        assert job.get_status(refresh=True) == JobStatus.STARTED
        # The worker and its work horse (which RQ puts in a process group of its own), as in a crash.
        for process in [psutil.Process(worker.pid), *psutil.Process(worker.pid).children(recursive=True)]:
            process.send_signal(signal.SIGKILL)
        worker.wait(10)
        blocker.rollback()
    _wait_for(lambda: not _worker_backends(owner), "PostgreSQL to drop the dead worker's transaction")
    assert brute_force.access_logs(sessions), "the generated sessions must produce figures"
    assert (
        owner.execute(
            "select count(*) as n from webinar_access_logs where webinar_id = %s", (tenant.webinar_id,)
        ).fetchone()["n"]
        == 0
    ), "nothing of the killed run may be committed"

    # Abandoned: still "started", with no worker left to finish it.
    assert job.get_status(refresh=True) == JobStatus.STARTED
    # What RQ does once the dead worker's heartbeat has lapsed, without waiting for the clock:
    # a scheduled job (rq cron sets no Retry) is failed visibly, as abandoned.
    StartedJobRegistry(queue=Queue(ROLLUPS, connection=connection)).cleanup(timestamp=time.time() + 3600)
    assert job.get_status(refresh=True) == JobStatus.FAILED
    assert job.id in FailedJobRegistry(queue=Queue(ROLLUPS, connection=connection))

    # The next scheduled run recomputes from the watermark the killed run never advanced.
    rerun = scheduled.enqueue(connection)
    subprocess.run(worker_command, cwd=PROJECT_DIR, env=env, timeout=120, check=True)
    assert rerun.get_status(refresh=True) == JobStatus.FINISHED
    stored = owner.execute(
        "select time_bucket, concurrent_viewers, unique_viewers from webinar_access_logs where webinar_id = %s",
        (tenant.webinar_id,),
    ).fetchall()
    assert {r["time_bucket"]: (r["concurrent_viewers"], r["unique_viewers"]) for r in stored} == (
        brute_force.access_logs(sessions)
    )
