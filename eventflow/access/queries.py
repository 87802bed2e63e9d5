"""SQL of the participant hot path: one stored-procedure call per request (see
sql/migrations/0005_participant_hot_path.sql), and the live list the snapshot is built from."""

REGISTER = "select register_participant(%(display_name)s, %(campaign_link_id)s) as created"

TRACK = "select * from track_access(%(session_id)s, %(display_name)s, %(user_agent)s)"

PING = "select ping_presence(%(session_id)s, %(display_name)s) as session_refreshed"

EXIT = "select * from exit_access(%(session_id)s)"

# The live list for the stats/access snapshot (snapshot.py), written by PostgreSQL as one JSON
# document of parallel lists in arrival order, and its md5 as the version. Served through the
# (webinar_id, last_seen_at) index; the policies limit it to the caller's tenant (admins) or
# webinar (participants, who may see who else is in the room). session_id is each viewer's
# newest session (mark_live, migration 0005): duplicate login is told from it.
LIVE_LIST = """
with live as (
    select user_id, display_name, session_id, joined_at,
           to_char(joined_at at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"+00:00"') as since
    from webinar_live_presence
    where webinar_id = %(webinar_id)s
      and last_seen_at > now() - make_interval(secs => %(timeout)s)
),
document as (
    select json_build_object(
        'user_ids', coalesce(json_agg(user_id order by joined_at, user_id), '[]'),
        'names', coalesce(json_agg(display_name order by joined_at, user_id), '[]'),
        'since', coalesce(json_agg(since order by joined_at, user_id), '[]'),
        'sessions', coalesce(json_agg(session_id order by joined_at, user_id), '[]')
    )::text as body
    from live
)
select body as document, md5(body) as version from document
"""
