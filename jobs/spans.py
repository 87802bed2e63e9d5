"""The one definition of watching, shared by every rollup that reads sessions.

A session covers the closed span [entered_at, coalesce(exited_at, last_heartbeat_at)]: an open
session counts up to its last heartbeat, never beyond. A viewer is a user_id. A viewer's
sessions that overlap or touch (two tabs, a reconnect within the same instant) merge into one
span, so nobody is counted twice at one instant and their watch time is the length of the union.
"""

SESSION_END = "coalesce(s.exited_at, s.last_heartbeat_at)"

BUCKET = "interval '5 minutes'"
BUCKET_ORIGIN = "timestamptz '2000-01-01'"

# CTEs that turn `spans (webinar_id, user_id, start_at, end_at)` into `merged`, one row per
# disjoint span of one viewer (gaps-and-islands: a span starts an island unless it begins at or
# before the latest end seen so far for that viewer).
MERGE_SPANS = """
marked as (
    select webinar_id, user_id, start_at, end_at,
           case when start_at <= max(end_at) over earlier then 0 else 1 end as starts_island
    from spans
    window earlier as (partition by webinar_id, user_id order by start_at, end_at
                       rows between unbounded preceding and 1 preceding)
),
numbered as (
    select webinar_id, user_id, start_at, end_at,
           sum(starts_island) over (partition by webinar_id, user_id order by start_at, end_at
                                    rows unbounded preceding) as island
    from marked
),
merged as (
    select webinar_id, user_id, min(start_at) as start_at, max(end_at) as end_at
    from numbered
    group by webinar_id, user_id, island
)
"""
