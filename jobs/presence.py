"""The presence sweep: viewers who vanished without `exit` leave the live list, and their
sessions are closed at their last heartbeat (contract §5). Closing at the last heartbeat keeps
the session's span unchanged, so the rollups need not look at it again."""

from eventflow.config import Settings
from jobs.worker import MAINTENANCE, connect, job

# Both statements touch only rows past the timeout, through the indexes on last_seen_at and on
# open sessions, so the sweep costs what it removes, not the size of the webinar.
DELETE_STALE_PRESENCE = """
delete from webinar_live_presence
where last_seen_at < now() - make_interval(secs => %(timeout)s)
"""
CLOSE_ABANDONED_SESSIONS = """
update webinar_user_sessions
set exited_at = last_heartbeat_at
where exited_at is null
  and last_heartbeat_at < now() - make_interval(secs => %(timeout)s)
"""


def run(conn, timeout_seconds):
    params = {"timeout": timeout_seconds}
    with conn.transaction():
        removed = conn.execute(DELETE_STALE_PRESENCE, params).rowcount
        closed = conn.execute(CLOSE_ABANDONED_SESSIONS, params).rowcount
    return {"presence_removed": removed, "sessions_closed": closed}


@job(MAINTENANCE, timeout=60, retries=2)
def sweep_presence(timeout_seconds=None):
    """Returns how many viewers left the live list and how many sessions were closed."""
    with connect() as conn:
        return run(conn, timeout_seconds or Settings.from_env().presence_timeout_seconds)
