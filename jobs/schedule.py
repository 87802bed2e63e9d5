"""The periodic schedule, as data: `rq cron --url "$REDIS_URL" jobs/schedule.py` (what
`eventflow serve` and the Procfile run; run exactly one).

Each entry names a job and how often it runs; queue, timeout and retries come from the job
itself. Registering is idempotent: rq cron starts from this file every time, and loading it
twice registers the same entries once (tests/test_jobs.py). Each rollup reads only what changed
since its last run, so a missed or failed run is caught up by the next one.
"""

from rq import cron

from jobs.access_logs import rollup_access_logs
from jobs.attendance import rollup_attendance
from jobs.marketing import rollup_marketing
from jobs.presence import sweep_presence

SCHEDULE = (
    # (job, every N seconds)
    (sweep_presence, 30),  # a vanished viewer leaves the live list within timeout + 30 s
    (rollup_access_logs, 60),  # the dashboard's 5-minute series lags by at most a minute
    (rollup_attendance, 60),
    (rollup_marketing, 300),  # reads webinar_attendance: a day-level figure, five minutes is plenty
)

for fn, every in SCHEDULE:
    cron.register(fn, fn.job_spec.queue, interval=every, job_timeout=fn.job_spec.timeout)
