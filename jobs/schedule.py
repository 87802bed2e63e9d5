"""The periodic schedule, as data: `rq cron jobs/schedule.py` (what `eventflow serve` runs).

Each entry names a job and how often it runs; queue and timeout come from the job itself.
Registering is idempotent: rq cron starts from this file every time.
"""

from rq import cron

from jobs.presence import sweep_presence

SCHEDULE = (
    # (job, every N seconds)
    (sweep_presence, 30),
)

for fn, every in SCHEDULE:
    cron.register(fn, fn.job_spec.queue, interval=every, job_timeout=fn.job_spec.timeout)
