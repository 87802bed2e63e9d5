"""The attendance rollup: one webinar_attendance row per viewer, from all their sessions.

first_join_at / last_leave_at: the start of their first span and the end of their last;
watch_seconds: the length of the union of their sessions (overlaps merged), whole seconds;
sessions: how many sessions they opened; rejoins: how many times they came back after a gap
(merged spans - 1). Incremental: a run recomputes the viewers with a session that ended (or
heartbeat) since the watermark, from every session they have.
"""

from eventflow.config import Settings
from jobs import watermarks
from jobs.spans import MERGE_SPANS, SESSION_END
from jobs.worker import ROLLUPS, connect, job

JOB_NAME = "attendance"

ROLLUP = f"""
with touched as (
    select distinct s.webinar_id, s.user_id
    from webinar_user_sessions s
    where {SESSION_END} >= %(since)s
      and (%(webinar_ids)s::uuid[] is null or s.webinar_id = any(%(webinar_ids)s::uuid[]))
),
spans as (
    select s.webinar_id, s.user_id, s.entered_at as start_at, {SESSION_END} as end_at
    from webinar_user_sessions s
    join touched t on t.webinar_id = s.webinar_id and t.user_id = s.user_id
),
{MERGE_SPANS},
viewers as (
    select webinar_id, user_id, min(start_at) as first_join_at, max(end_at) as last_leave_at,
           floor(extract(epoch from sum(end_at - start_at)))::integer as watch_seconds,
           count(*) - 1 as rejoins
    from merged
    group by webinar_id, user_id
),
session_counts as (
    select webinar_id, user_id, count(*) as sessions from spans group by webinar_id, user_id
)
insert into webinar_attendance as a
    (webinar_id, user_id, client_id, agency_id, first_join_at, last_leave_at, watch_seconds,
     sessions, rejoins, updated_at)
select v.webinar_id, v.user_id, w.client_id, w.agency_id, v.first_join_at, v.last_leave_at,
       v.watch_seconds, n.sessions, v.rejoins, now()
from viewers v
join session_counts n on n.webinar_id = v.webinar_id and n.user_id = v.user_id
join webinars w on w.id = v.webinar_id
on conflict (webinar_id, user_id) do update
    set first_join_at = excluded.first_join_at,
        last_leave_at = excluded.last_leave_at,
        watch_seconds = excluded.watch_seconds,
        sessions = excluded.sessions,
        rejoins = excluded.rejoins,
        updated_at = excluded.updated_at
    where (a.first_join_at, a.last_leave_at, a.watch_seconds, a.sessions, a.rejoins)
          is distinct from (excluded.first_join_at, excluded.last_leave_at, excluded.watch_seconds,
                            excluded.sessions, excluded.rejoins)
"""


def run(conn, settings, full=False, webinar_ids=None):
    return watermarks.run_rollup(conn, JOB_NAME, ROLLUP, settings, full=full, webinar_ids=webinar_ids)


@job(ROLLUPS, timeout=300, retries=2)
def rollup_attendance(full=False, webinar_ids=None):
    with connect() as conn:
        return run(conn, Settings.from_env(), full=full, webinar_ids=webinar_ids)
