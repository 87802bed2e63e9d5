"""The benchmark's timetable (bench/schedule.py): cadences, churn and sharding, without a server."""

import pytest

from bench import schedule
from bench.report import percentile


def _of(events, kind, actor=None):
    return [t for t, k, a in events if k == kind and (actor is None or a == actor)]


def test_every_viewer_keeps_the_seed_cadences():
    crowd = schedule.Crowd(viewers=50, admins=2, duration=400, ramp=20, leave_fraction=0, seed=7)
    events = schedule.timetable(crowd)
    assert [t for t, _, _ in events] == sorted(t for t, _, _ in events)
    for viewer in range(crowd.viewers):
        (entry,) = _of(events, schedule.TRACK, viewer)
        assert 0 <= entry < crowd.ramp
        polls = _of(events, schedule.STATS_ACCESS, viewer)
        assert all(abs(b - a - 5.0) < 1e-9 for a, b in zip(polls, polls[1:], strict=False))
        pings = [entry] + _of(events, schedule.PING, viewer)
        assert all(110 <= b - a <= 130 for a, b in zip(pings, pings[1:], strict=False))
        assert _of(events, schedule.TRACK_REFRESH, viewer) == [entry + 300]
    assert not _of(events, schedule.MESSAGES)
    assert len(_of(events, schedule.ADMIN_STATS, 0)) == 27  # every 15 s for 400 s


def test_viewers_already_watching_run_their_timers_at_random_phases():
    crowd = schedule.Crowd(viewers=2000, present=2000, admins=0, duration=60, leave_fraction=0)
    events = schedule.timetable(crowd)
    assert not _of(events, schedule.TRACK)
    rates = schedule.offered_rates(events, crowd.duration)
    assert 380 < rates[schedule.STATS_ACCESS] < 420  # N / 5 s
    assert 12 < rates[schedule.PING] < 21  # about N / 120 s
    assert 4 < rates[schedule.TRACK_REFRESH] < 10  # about N / 300 s


def test_fallback_churn_and_shards():
    crowd = schedule.Crowd(viewers=300, admins=3, duration=120, ramp=10, fallback=True, posters=5, seed=3)
    events = schedule.timetable(crowd)
    exits = _of(events, schedule.EXIT)
    assert 10 < len(exits) < 60  # about 10 % leave once
    assert len(_of(events, schedule.TRACK)) > crowd.viewers  # most of them come back
    assert _of(events, schedule.MESSAGES) and _of(events, schedule.QUESTIONS)
    assert {a for _, k, a in events if k == schedule.POST_MESSAGE} <= set(range(5))
    shards = [schedule.timetable(crowd, shard, 3) for shard in range(3)]
    assert sorted(e for s in shards for e in s) == sorted(events)


def test_percentile_is_nearest_rank():
    values = list(range(1, 101))
    assert percentile(values, 0.5) == 50 and percentile(values, 0.99) == 99 and percentile(values, 1.0) == 100


def test_a_join_storm_enters_every_viewer_as_the_reference_client_does():
    crowd = schedule.Crowd(viewers=200, admins=0, duration=90, ramp=60, leave_fraction=0, join_storm=True, seed=5)
    events = schedule.timetable(crowd)
    entry = (schedule.REGISTER, schedule.TRACK, schedule.FIRST_PING, schedule.FIRST_STATS_ACCESS)
    for viewer in range(crowd.viewers):
        steps = [_of(events, kind, viewer) for kind in entry]
        assert all(len(times) == 1 for times in steps), steps
        times = [t for (t,) in steps]
        assert 0 <= times[0] < crowd.ramp
        assert times == sorted(times) and times[-1] - times[0] < 1
        polls = _of(events, schedule.STATS_ACCESS, viewer)
        assert polls and polls[0] - times[-1] == pytest.approx(schedule.STATS_ACCESS_EVERY)
