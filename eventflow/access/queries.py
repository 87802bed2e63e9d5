"""SQL of the participant hot path: one stored-procedure call per request (see
sql/migrations/0005_participant_hot_path.sql), and the live list the snapshot is built from."""

REGISTER = "select register_participant(%(display_name)s, %(campaign_link_id)s) as created"

TRACK = "select * from track_access(%(session_id)s, %(display_name)s, %(user_agent)s)"

PING = "select ping_presence(%(session_id)s, %(display_name)s) as session_refreshed"

EXIT = "select * from exit_access(%(session_id)s)"

# Served through the (webinar_id, last_seen_at) index; the policies limit it to the caller's
# tenant (admins) or webinar (participants, who may see who else is in the room). session_id is
# each viewer's newest session (mark_live, migration 0005): duplicate login is told from it.
LIVE_VIEWERS = """
select user_id, display_name, joined_at as since, session_id
from webinar_live_presence
where webinar_id = %(webinar_id)s
  and last_seen_at > now() - make_interval(secs => %(timeout)s)
order by joined_at, user_id
"""
