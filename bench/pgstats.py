"""SQL statements the app ran, from pg_stat_statements: a snapshot before and after a phase.

Only statements of `eventflow_app` in the benchmark database count (not the harness's own).
With `pg_stat_statements.track = top` a stored procedure's call is one statement; BEGIN and
COMMIT are utility statements and are counted separately (track_utility is on by default).
"""

import psycopg

APP_STATEMENTS = """
select s.queryid, s.query, s.calls, s.total_exec_time
from pg_stat_statements s
join pg_roles r on r.oid = s.userid
join pg_database d on d.oid = s.dbid
where d.datname = current_database() and r.rolname = 'eventflow_app'
"""
UTILITY = ("begin", "commit", "rollback", "set ", "show ", "discard", "deallocate")
# The query behind a stats/access snapshot rebuild (eventflow/access/queries.py LIVE_LIST).
LIVE_LIST_MARKS = ("from webinar_live_presence", "order by joined_at")
# The chat reads (eventflow/chat/queries.py): a change window's refill is one read-only
# transaction that reads the feed's head (FEED_HEAD, which nothing else runs) and runs the poll
# query twice (as an admin and as any participant); a poll the window cannot answer runs its
# poll query once, in a transaction of its own. Only the poll queries name these functions.
# (Not ONE_SNAPSHOT: pg_stat_statements counted that utility statement in only 72 of 115 refills.)
WINDOW_REFILL = "select coalesce((select f.seq from chat_feeds f"
POLL_MARKS = ("app.removed_messages(", "app.removed_questions(")
# Every statement that reads a feed: the polls, the feed's head, whose own rows changed.
FEED_READ_MARKS = POLL_MARKS + ("from chat_feeds f", "max(m.seq) as seq", "max(personal.seq) as seq")


TRANSACTIONS = """
select xact_commit + xact_rollback from pg_stat_database where datname = current_database()
"""


def transactions(owner_url):
    """Transactions of the benchmark database so far (every role): where pg_stat_statements is not
    loaded, the count of requests that reached PostgreSQL (each takes one transaction). Backends
    report it when idle, at most once a second: read it a moment after the load stops."""
    with psycopg.connect(owner_url, autocommit=True) as conn:
        return conn.execute(TRANSACTIONS).fetchone()[0]


def available(owner_url):
    try:
        with psycopg.connect(owner_url, autocommit=True) as conn:
            conn.execute("select 1 from pg_stat_statements limit 1")
        return True
    except psycopg.Error:
        return False


def snapshot(owner_url):
    with psycopg.connect(owner_url, autocommit=True) as conn:
        return {row[0]: (row[1], row[2], row[3]) for row in conn.execute(APP_STATEMENTS)}


def delta(before, after):
    """[(query, calls, total ms)] that ran between the snapshots, most called first."""
    rows = []
    for queryid, (query, calls, total_ms) in after.items():
        _, calls_before, ms_before = before.get(queryid, ("", 0, 0.0))
        if calls > calls_before:
            rows.append((" ".join(query.split()), calls - calls_before, total_ms - ms_before))
    return sorted(rows, key=lambda row: -row[1])


def summarise(rows):
    """Totals of a delta: all statements, those that are not BEGIN/COMMIT, snapshot rebuilds, and
    the chat reads: window refills, polls sent to PostgreSQL, the statements reading the feeds."""
    def calls_where(test):
        return sum(calls for query, calls, _ in rows if test(query.lower()))

    total = calls_where(lambda query: True)
    utility = calls_where(lambda query: query.startswith(UTILITY))
    refills = calls_where(lambda query: query.startswith(WINDOW_REFILL))
    polls = calls_where(lambda query: any(mark in query for mark in POLL_MARKS))
    return {
        "statements": total,
        "utility": utility,
        "sql": total - utility,
        "live_viewers": calls_where(lambda query: all(mark in query for mark in LIVE_LIST_MARKS)),
        "window_refills": refills,
        "direct_chat_polls": polls - 2 * refills,
        "feed_reads": calls_where(lambda query: any(mark in query for mark in FEED_READ_MARKS)),
    }
