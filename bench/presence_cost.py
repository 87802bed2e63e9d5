"""What one presence write costs PostgreSQL (issue 12, item 4): for each entry request, sent one
at a time by distinct seeded viewers through the real service, the transactions and row writes
of the benchmark database (pg_stat_database), the WAL records, bytes and flushes written
(pg_stat_wal, cluster-wide: run it on a quiet server, under the bench lock) and the mean time to
answer. Round trips per write are the app's statements: BEGIN, the context, the call, COMMIT."""

import http.client
import time
import urllib.parse

import orjson
import psycopg

WAL = "select wal_records, wal_bytes, wal_sync from pg_stat_wal"
DATABASE = """
select xact_commit + xact_rollback, tup_inserted + tup_updated + tup_deleted
from pg_stat_database where datname = current_database()
"""
STATS_FLUSH_SECONDS = 1.5  # backends report their counters at most once a second, when idle
KINDS = ("register", "access/track (entry)", "presence/ping", "access/track (refresh)")


def _counters(owner_url):
    """(transactions, row writes, WAL records, WAL bytes, WAL flushes) so far."""
    time.sleep(STATS_FLUSH_SECONDS)
    with psycopg.connect(owner_url, autocommit=True) as conn:
        conn.execute("select pg_stat_clear_snapshot()")
        return (*conn.execute(DATABASE).fetchone(), *conn.execute(WAL).fetchone())


def _request(kind, session_id):
    if kind == "register":
        return "register", {}
    if kind == "access/track (entry)":
        return "access/track", {"user_agent": "eventflow-bench/1.0"}
    if kind == "presence/ping":
        return "presence/ping", {"session_id": session_id}
    return "access/track", {"session_id": session_id, "user_agent": "eventflow-bench/1.0"}


def measure(session, writes):
    """One row per kind: (kind, per write: transactions, row writes, WAL records, WAL bytes,
    WAL flushes; mean ms; statuses)."""
    crowd = session.seed(writes, 0, present=writes)
    url = urllib.parse.urlsplit(session.app_url)
    rows = []
    for kind in KINDS:
        connection = http.client.HTTPConnection(url.hostname, url.port, timeout=10)
        before = _counters(session.urls["owner"])
        statuses, started = {}, time.perf_counter()
        for token, session_id in zip(crowd.viewer_tokens, crowd.viewer_sessions, strict=True):
            path, body = _request(kind, session_id)
            headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
            connection.request("POST", f"/api/webinars/{crowd.webinar_id}/{path}", orjson.dumps(body), headers)
            answer = connection.getresponse()
            answer.read()
            statuses[answer.status] = statuses.get(answer.status, 0) + 1
        elapsed = time.perf_counter() - started
        connection.close()
        after = _counters(session.urls["owner"])
        per_write = [(a - b) / writes for a, b in zip(after, before, strict=True)]
        rows.append((kind, *per_write, 1000 * elapsed / writes, statuses))
    return rows


def table(rows):
    lines = [
        "| request | transactions / write | rows written / write | WAL records / write | WAL bytes / write | "
        "WAL flushes / write | mean ms (one at a time) | statuses |",
        "|---|---:|---:|---:|---:|---:|---:|---|",
    ]
    for kind, transactions, tuples, records, wal_bytes, flushes, mean_ms, statuses in rows:
        codes = ", ".join(f"{code}×{n}" for code, n in sorted(statuses.items()))
        lines.append(
            f"| {kind} | {transactions:.2f} | {tuples:.2f} | {records:.1f} | {wal_bytes:.0f} | {flushes:.2f} | "
            f"{mean_ms:.2f} | {codes} |"
        )
    return "\n".join(lines)
