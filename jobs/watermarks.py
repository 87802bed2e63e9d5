"""Incremental rollups: each job reads only what changed since its last run.

A job's watermark is the start of its last successful run. The next run reads rows whose
change time is at or after the watermark minus an overlap (EVENTFLOW_ROLLUP_OVERLAP_SECONDS),
so that rows written by transactions still in flight when the last run read are not missed;
recomputing a little twice is harmless because every rollup recomputes and upserts. The
watermark advances in the same transaction as the job's upserts: a run that dies writes
neither, and the next run does its work again.
"""

from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

# One run of a job at a time: a second one (the schedule firing while a slow run is still
# going) finds the lock taken and returns at once.
TRY_LOCK = "select pg_try_advisory_xact_lock(hashtext('eventflow.rollup.' || %s)) as locked"
READ = "select processed_until, now() as run_started from rollup.watermarks where job = %s"
NOW = "select now() as run_started"
ADVANCE = """
insert into rollup.watermarks (job, processed_until, updated_at) values (%(job)s, %(until)s, now())
on conflict (job) do update set processed_until = excluded.processed_until, updated_at = excluded.updated_at
"""

# From the beginning: the first run, or a rebuild.
BEGINNING = datetime(1970, 1, 1, tzinfo=UTC)


@dataclass
class Window:
    since: datetime  # read rows changed at or after this
    run_started: datetime  # the watermark this run will leave behind
    full: bool


@contextmanager
def incremental(conn, job, overlap_seconds, full=False, advance=True):
    """Within one transaction on `conn`: yields the Window to read, or None when another run of
    the same job holds the lock; advances the watermark when the block completes."""
    with conn.transaction():
        if not conn.execute(TRY_LOCK, (job,)).fetchone()["locked"]:
            yield None
            return
        row = conn.execute(READ, (job,)).fetchone()
        if row is None or full:
            run_started = conn.execute(NOW).fetchone()["run_started"]
            window = Window(BEGINNING, run_started, True)
        else:
            since = row["processed_until"] - timedelta(seconds=overlap_seconds)
            window = Window(since, row["run_started"], False)
        yield window
        if advance:
            conn.execute(ADVANCE, {"job": job, "until": window.run_started})


def run_rollup(conn, job, sql, settings, full=False, webinar_ids=None, **params):
    """Run one rollup statement over the rows changed since `job`'s watermark.

    With `webinar_ids`, recompute those webinars from their beginning and leave the watermark
    alone (a targeted rebuild); with `full`, recompute everything. Returns what was written."""
    targeted = webinar_ids is not None
    with incremental(conn, job, settings.rollup_overlap_seconds, full=full or targeted, advance=not targeted) as window:
        if window is None:
            return {"job": job, "skipped": "another run holds the lock"}
        params.update(since=window.since, webinar_ids=list(webinar_ids) if targeted else None)
        written = conn.execute(sql, params).rowcount
    return {"job": job, "rows_written": written, "since": window.since.isoformat(), "full": window.full}
