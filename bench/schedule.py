"""The crowd's timetable: when each viewer and admin sends which request.

A pure function of its parameters and a seed, so the generator can replay it exactly and a test
can check it. Times are seconds from the start of the run. The generator sends each request at
its scheduled time whatever happened to the previous ones (open loop) and measures latency from
that time, so a slow server cannot hide its queue by slowing the generator down (coordinated
omission).

Cadences are the seed's (shared/seed/hot-paths): every viewer tracks on entry and every 5 min,
pings every 120 s ± 10 s and polls stats/access every 5 s; in fallback mode also messages every
2 s and questions every 5 s, while a few posters write. Admins poll stats/access every 5 s and the
dashboard every 15 s.
"""

import random
from dataclasses import dataclass

# Request kinds; the report groups by these.
REGISTER = "register"
FIRST_PING = "ping (entry)"
FIRST_STATS_ACCESS = "stats/access (entry)"
TRACK = "track"
TRACK_REFRESH = "track (refresh)"
PING = "ping"
STATS_ACCESS = "stats/access"
EXIT = "exit"
MESSAGES = "messages?after"
QUESTIONS = "questions?after"
POST_MESSAGE = "POST messages"
POST_QUESTION = "POST questions"
ADMIN_STATS_ACCESS = "stats/access (admin)"
ADMIN_STATS = "stats (admin)"

FALLBACK_KINDS = frozenset({MESSAGES, QUESTIONS, POST_MESSAGE, POST_QUESTION})

STATS_ACCESS_EVERY = 5.0
PING_EVERY, PING_JITTER = 120.0, 10.0
TRACK_EVERY = 300.0
MESSAGES_EVERY = 2.0
QUESTIONS_EVERY = 5.0
ADMIN_STATS_EVERY = 15.0
POST_MESSAGE_GAP = (5.0, 15.0)  # a poster writes every 5-15 s (limit: 30/min)
POST_QUESTION_GAP = (30.0, 90.0)  # and asks every 30-90 s (limit: 10/min)
# A join-storm entry as the reference client makes it, one request after the other's answer:
# register, access/track, the first presence/ping and the first stats/access, this far apart.
ENTRY_STEP = 0.05
AWAY = (10.0, 60.0)  # how long a leaver stays away before rejoining
MIN_STAY = 20.0  # a leaver watches at least this long first


@dataclass(frozen=True)
class Crowd:
    viewers: int
    admins: int = 5
    duration: float = 60.0  # the whole run, ramp included
    ramp: float = 20.0  # arrivals spread uniformly over [0, ramp)
    present: int = 0  # viewers 0..present-1 are already watching at t=0 (their session is seeded)
    fallback: bool = False
    posters: int = 10  # fallback only: viewers who also write
    leave_fraction: float = 0.1  # viewers who leave once (exit) and most of them rejoin
    admin_stats: bool = True  # False while GET /stats does not exist yet
    seed: int = 1
    join_storm: bool = False  # arrivals enter as the reference client does (register, track, ping, poll)


def _every(start, end, period, first_offset):
    t = start + first_offset
    while t < end:
        yield t
        t += period


def _jittered(rng, start, end, period, jitter):
    t = start + period + rng.uniform(-jitter, jitter)
    while t < end:
        yield t
        t += period + rng.uniform(-jitter, jitter)


def _gaps(rng, start, end, gap):
    t = start + rng.uniform(*gap)
    while t < end:
        yield t
        t += rng.uniform(*gap)


def presence_intervals(rng, crowd, already_in=False):
    """When one viewer is in the room: [(enter, leave)], leave == duration when they stay."""
    enter = 0.0 if already_in or crowd.ramp <= 0 else rng.uniform(0, crowd.ramp)
    end = crowd.duration
    if rng.random() >= crowd.leave_fraction or enter + MIN_STAY >= end:
        return [(enter, end)]
    leave = rng.uniform(enter + MIN_STAY, end)
    back = leave + rng.uniform(*AWAY)
    if back + 1.0 >= end:
        return [(enter, leave)]
    return [(enter, leave), (back, end)]


def viewer_events(rng, crowd, viewer, poster):
    """Every request of one viewer: [(t, kind, viewer)].

    A viewer who arrives during the run tracks on entry and starts its timers then. A viewer
    already watching at t=0 entered some time before: its timers run at random phases (as a
    crowd that trickled in over the preceding minutes would), and it sends no entry track."""
    events = []
    already_in = viewer < crowd.present
    for number, (enter, leave) in enumerate(presence_intervals(rng, crowd, already_in)):
        if already_in and number == 0:
            track_first = rng.uniform(0, TRACK_EVERY)
            ping_start = enter - rng.uniform(0, PING_EVERY + PING_JITTER)  # so the first falls in [0, 130)
            first_poll = rng.uniform(0, STATS_ACCESS_EVERY)
        elif crowd.join_storm and number == 0:
            events += [
                (enter, REGISTER, viewer),
                (enter + ENTRY_STEP, TRACK, viewer),
                (enter + 2 * ENTRY_STEP, FIRST_PING, viewer),
                (enter + 3 * ENTRY_STEP, FIRST_STATS_ACCESS, viewer),
            ]
            track_first, ping_start = TRACK_EVERY, enter
            first_poll = 3 * ENTRY_STEP + STATS_ACCESS_EVERY
        else:
            events.append((enter, TRACK, viewer))
            track_first, ping_start = TRACK_EVERY, enter
            first_poll = rng.uniform(0.2, 1.0)  # the page loads, then polls
        events += [(t, TRACK_REFRESH, viewer) for t in _every(enter, leave, TRACK_EVERY, track_first)]
        events += [(t, PING, viewer) for t in _jittered(rng, ping_start, leave, PING_EVERY, PING_JITTER) if t >= 0]
        events += [(t, STATS_ACCESS, viewer) for t in _every(enter, leave, STATS_ACCESS_EVERY, first_poll)]
        if crowd.fallback:
            events += [(t, MESSAGES, viewer) for t in _every(enter, leave, MESSAGES_EVERY, first_poll)]
            events += [(t, QUESTIONS, viewer) for t in _every(enter, leave, QUESTIONS_EVERY, first_poll + 0.1)]
            if poster:
                events += [(t, POST_MESSAGE, viewer) for t in _gaps(rng, enter, leave, POST_MESSAGE_GAP)]
                events += [(t, POST_QUESTION, viewer) for t in _gaps(rng, enter, leave, POST_QUESTION_GAP)]
        if leave < crowd.duration:
            events.append((leave, EXIT, viewer))
    return events


def admin_events(rng, crowd, admin):
    """An admin watches the dashboard from the start: [(t, kind, admin)]."""
    phase = rng.uniform(0, STATS_ACCESS_EVERY)
    events = [(t, ADMIN_STATS_ACCESS, admin) for t in _every(0.0, crowd.duration, STATS_ACCESS_EVERY, phase)]
    if crowd.admin_stats:
        events += [(t, ADMIN_STATS, admin) for t in _every(0.0, crowd.duration, ADMIN_STATS_EVERY, phase + 0.5)]
    return events


def timetable(crowd, shard=0, shards=1):
    """All requests of the crowd (or of one shard of its actors), sorted by time.

    Viewer i and admin j belong to shard i % shards and j % shards; each actor draws from its own
    seeded generator, so a shard's events are the same whatever the number of shards."""
    events = []
    for viewer in range(shard, crowd.viewers, shards):
        rng = random.Random(f"{crowd.seed}:viewer:{viewer}")
        events += viewer_events(rng, crowd, viewer, poster=viewer < crowd.posters)
    for admin in range(shard, crowd.admins, shards):
        rng = random.Random(f"{crowd.seed}:admin:{admin}")
        events += admin_events(rng, crowd, admin)
    events.sort(key=lambda event: event[0])
    return events


def offered_rates(events, duration):
    """Requests per second per kind over the run, as scheduled."""
    counts = {}
    for _, kind, _ in events:
        counts[kind] = counts.get(kind, 0) + 1
    return {kind: count / duration for kind, count in sorted(counts.items())}
