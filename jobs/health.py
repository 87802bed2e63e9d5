"""Is the background side healthy? Redis answers, a live worker serves every queue, no queue is
backed up, and the rq cron scheduler is alive. `eventflow worker-health` prints this as JSON and
exits 1 when a check fails, for a container probe or a cron'd alert."""

from datetime import UTC, datetime

import redis
from rq import Queue, Worker
from rq.cron import CronScheduler

from jobs.worker import QUEUES

MAX_QUEUE_DEPTH = 1000
MAX_WAIT_SECONDS = 300  # the oldest waiting job; the slowest schedule entry runs every 5 min


def check(connection, max_queue_depth=MAX_QUEUE_DEPTH, max_wait_seconds=MAX_WAIT_SECONDS, schedule=True):
    """Returns (healthy, report)."""
    problems = []
    report = {"queues": {}, "workers": 0, "schedulers": None}
    try:
        connection.ping()
        workers = Worker.all(connection=connection)
        report["workers"] = len(workers)
        served = {name for worker in workers for name in worker.queue_names()}
        now = datetime.now(UTC)
        for name in QUEUES:
            queue = Queue(name, connection=connection)
            oldest = queue.get_jobs(0, 0)
            waited = (now - oldest[0].enqueued_at).total_seconds() if oldest and oldest[0].enqueued_at else 0
            report["queues"][name] = {
                "depth": queue.count,
                "oldest_wait_seconds": round(waited, 1),
                "failed": queue.failed_job_registry.count,
                "served": name in served,
            }
            if name not in served:
                problems.append(f"no live worker serves queue {name}")
            if queue.count > max_queue_depth:
                problems.append(f"queue {name} holds {queue.count} jobs (max {max_queue_depth})")
            if waited > max_wait_seconds:
                problems.append(f"the oldest job in {name} has waited {waited:.0f}s (max {max_wait_seconds}s)")
        if schedule:
            report["schedulers"] = len(CronScheduler.all(connection))
            if not report["schedulers"]:
                problems.append("no rq cron scheduler is alive (rq cron jobs/schedule.py)")
    except redis.RedisError as exc:
        problems.append(f"Redis unavailable: {exc.__class__.__name__}")
    report["problems"] = problems
    report["healthy"] = not problems
    return not problems, report
