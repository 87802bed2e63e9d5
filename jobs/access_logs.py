"""The 5-minute access-log rollup: webinar_access_logs from sessions.

Per webinar and bucket [b, b + 5 min):
- unique_viewers: viewers with a session overlapping the bucket;
- concurrent_viewers: the most viewers watching at one instant inside the bucket (peak), each
  viewer counted once however many sessions they have open.
Buckets nobody watched have no row. Incremental: a run recomputes, for each webinar with a
session that ended (or heartbeat) since its watermark, the buckets from the earliest changed
instant to the latest, from every session overlapping them.
"""

from eventflow.config import Settings
from jobs import watermarks
from jobs.spans import BUCKET, BUCKET_ORIGIN, MERGE_SPANS, SESSION_END
from jobs.worker import ROLLUPS, connect, job

JOB_NAME = "access_logs"

ROLLUP = f"""
with changed as (
    select s.webinar_id,
           date_bin({BUCKET}, min(greatest(s.entered_at, %(since)s)), {BUCKET_ORIGIN}) as lo,
           date_bin({BUCKET}, max({SESSION_END}), {BUCKET_ORIGIN}) as hi
    from webinar_user_sessions s
    where {SESSION_END} >= %(since)s
      and (%(webinar_ids)s::uuid[] is null or s.webinar_id = any(%(webinar_ids)s::uuid[]))
    group by s.webinar_id
),
spans as (
    select s.webinar_id, s.user_id, s.entered_at as start_at, {SESSION_END} as end_at
    from webinar_user_sessions s
    join changed c on c.webinar_id = s.webinar_id
    where {SESSION_END} >= c.lo and s.entered_at < c.hi + {BUCKET}
),
{MERGE_SPANS},
-- Each merged span in every bucket it overlaps; carried_in counts who was already watching at
-- the bucket's first instant (per viewer, merged spans are disjoint, so count(*) is per viewer).
coverage as (
    select m.webinar_id, b.bucket,
           count(distinct m.user_id) as unique_viewers,
           count(*) filter (where m.start_at < b.bucket) as carried_in
    from merged m
    join changed c on c.webinar_id = m.webinar_id
    cross join lateral generate_series(greatest(date_bin({BUCKET}, m.start_at, {BUCKET_ORIGIN}), c.lo),
                                       least(date_bin({BUCKET}, m.end_at, {BUCKET_ORIGIN}), c.hi),
                                       {BUCKET}) as b (bucket)
    group by m.webinar_id, b.bucket
),
-- A sweep over span starts (+1) and ends (-1), starts first at equal instants (spans are closed):
-- the level after a start is how many watch at that instant. A bucket's peak is reached at its
-- first instant or at a start inside it.
events as (
    select webinar_id, start_at as at, 1 as delta from merged
    union all
    select webinar_id, end_at, -1 from merged
),
levels as (
    select webinar_id, at, delta,
           sum(delta) over (partition by webinar_id order by at, delta desc rows unbounded preceding) as level
    from events
),
peaks as (
    select webinar_id, date_bin({BUCKET}, at, {BUCKET_ORIGIN}) as bucket, max(level) as peak
    from levels
    where delta = 1
    group by 1, 2
),
figures as (
    select v.webinar_id, v.bucket, greatest(v.carried_in, coalesce(p.peak, 0)) as concurrent_viewers,
           v.unique_viewers
    from coverage v
    left join peaks p on p.webinar_id = v.webinar_id and p.bucket = v.bucket
),
-- A stored bucket inside the recomputed range that nobody watched any more reads 0.
emptied as (
    select l.webinar_id, l.time_bucket as bucket, 0 as concurrent_viewers, 0 as unique_viewers
    from webinar_access_logs l
    join changed c on c.webinar_id = l.webinar_id
    where l.time_bucket between c.lo and c.hi
      and not exists (select from coverage v where v.webinar_id = l.webinar_id and v.bucket = l.time_bucket)
)
insert into webinar_access_logs as l
    (webinar_id, time_bucket, client_id, agency_id, concurrent_viewers, unique_viewers, updated_at)
select f.webinar_id, f.bucket, w.client_id, w.agency_id, f.concurrent_viewers, f.unique_viewers, now()
from (select * from figures union all select * from emptied) f
join webinars w on w.id = f.webinar_id
on conflict (webinar_id, time_bucket) do update
    set concurrent_viewers = excluded.concurrent_viewers,
        unique_viewers = excluded.unique_viewers,
        updated_at = excluded.updated_at
    where (l.concurrent_viewers, l.unique_viewers)
          is distinct from (excluded.concurrent_viewers, excluded.unique_viewers)
"""


def run(conn, settings, full=False, webinar_ids=None):
    return watermarks.run_rollup(conn, JOB_NAME, ROLLUP, settings, full=full, webinar_ids=webinar_ids)


@job(ROLLUPS, timeout=300, retries=2)
def rollup_access_logs(full=False, webinar_ids=None):
    with connect() as conn:
        return run(conn, Settings.from_env(), full=full, webinar_ids=webinar_ids)
