"""Generated viewing sessions, and the rollups' figures recomputed from them the slow, obvious
way, to hold the set-based SQL of jobs/ against."""

import random
import uuid
from collections import defaultdict
from datetime import UTC, datetime, timedelta

BUCKET = timedelta(minutes=5)
ORIGIN = datetime(2000, 1, 1, tzinfo=UTC)


def bucket_of(at):
    return ORIGIN + ((at - ORIGIN) // BUCKET) * BUCKET


def generate_sessions(webinar, start, minutes, viewers, seed):
    """Sessions of `viewers` users over [start, start + minutes]: each viewer comes and goes
    (reconnects), sometimes with a second tab overlapping the first; some sessions stay open
    (no exited_at, the span ends at the last heartbeat). Times land anywhere, so spans cross
    bucket boundaries and start or end exactly on them now and then."""
    rng = random.Random(seed)
    end = start + timedelta(minutes=minutes)
    sessions = []
    for _ in range(viewers):
        user = uuid.uuid4()
        at = start + timedelta(seconds=rng.randrange(0, minutes * 60 // 2))
        while at < end:
            if rng.random() < 0.1:
                at = bucket_of(at) + BUCKET  # exactly on a boundary
                if at >= end:
                    break
            length = timedelta(seconds=rng.choice([0, 30, 299, 300, 301, 700, 1500, rng.randrange(1, 2400)]))
            stop = min(at + length, end)
            if rng.random() < 0.2:  # still open: it lasts until its last heartbeat
                sessions.append((webinar, user, at, stop, None))
            else:  # exited a little after the last heartbeat
                heartbeat = max(at, stop - timedelta(seconds=rng.randrange(0, 120)))
                sessions.append((webinar, user, at, heartbeat, stop))
            if rng.random() < 0.25:  # a second tab, overlapping
                tab_start = at + (stop - at) / 2
                sessions.append((webinar, user, tab_start, min(tab_start + length, end), min(tab_start + length, end)))
            at = stop + timedelta(seconds=rng.choice([0, 1, 45, 400, 900]))
    return sessions


def insert_sessions(owner, tenant, sessions):
    """(webinar_id, user_id, entered_at, last_heartbeat_at, exited_at) rows, as the owner."""
    with owner.cursor() as cur:
        cur.executemany(
            """insert into webinar_user_sessions (webinar_id, user_id, client_id, agency_id, entered_at,
                                                  last_heartbeat_at, exited_at)
               values (%s, %s, %s, %s, %s, %s, %s)""",
            [(w, u, tenant.client_id, tenant.agency_id, s, hb, ex) for (w, u, s, hb, ex) in sessions],
        )


def spans_by_user(sessions):
    spans = defaultdict(list)
    for _webinar, user, entered, heartbeat, exited in sessions:
        spans[user].append((entered, exited if exited is not None else heartbeat))
    return spans


def merge(spans):
    merged = []
    for start, end in sorted(spans):
        if merged and start <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], end)
        else:
            merged.append([start, end])
    return merged


def access_logs(sessions):
    """{bucket: (concurrent_viewers, unique_viewers)} for every bucket someone watched."""
    spans = spans_by_user(sessions)
    all_spans = [(user, s, e) for user, items in spans.items() for s, e in items]
    buckets = {
        bucket_of(s) + i * BUCKET for _, s, e in all_spans for i in range((bucket_of(e) - bucket_of(s)) // BUCKET + 1)
    }
    figures = {}
    for b in sorted(buckets):
        unique = {u for u, s, e in all_spans if s < b + BUCKET and e >= b}
        if not unique:
            continue
        instants = {b} | {s for _, s, _ in all_spans if b <= s < b + BUCKET}
        concurrent = max(len({u for u, s, e in all_spans if s <= t <= e}) for t in instants)
        figures[b] = (concurrent, len(unique))
    return figures


def attendance(sessions):
    """{user: (first_join, last_leave, watch_seconds, sessions, rejoins)}."""
    result = {}
    for user, spans in spans_by_user(sessions).items():
        merged = merge(spans)
        watched = sum((e - s for s, e in merged), timedelta())
        result[user] = (
            merged[0][0],
            max(e for _, e in merged),
            watched // timedelta(seconds=1),
            len(spans),
            len(merged) - 1,
        )
    return result
