"""The rollup jobs against a brute-force recomputation from raw rows, run twice, interrupted,
incrementally; the schedule; the worker health check. Jobs run as eventflow_worker."""

import threading
import time
import uuid
from datetime import UTC, datetime, timedelta

import psycopg
import pytest
from psycopg.rows import dict_row
from rq.cron import CronScheduler

from jobs import access_logs, attendance, health, schedule
from jobs.worker import QUEUES
from tests import brute_force


@pytest.fixture
def worker(services):
    with psycopg.connect(services["worker_url"], row_factory=dict_row) as conn:
        yield conn


def stored_access_logs(owner, webinar_id):
    rows = owner.execute(
        "select time_bucket, concurrent_viewers, unique_viewers from webinar_access_logs where webinar_id = %s",
        (webinar_id,),
    ).fetchall()
    return {r["time_bucket"]: (r["concurrent_viewers"], r["unique_viewers"]) for r in rows}


def stored_attendance(owner, webinar_id):
    rows = owner.execute(
        """select user_id, first_join_at, last_leave_at, watch_seconds, sessions, rejoins
           from webinar_attendance where webinar_id = %s""",
        (webinar_id,),
    ).fetchall()
    return {
        r["user_id"]: (r["first_join_at"], r["last_leave_at"], r["watch_seconds"], r["sessions"], r["rejoins"])
        for r in rows
    }


def whole_rows(owner, table, webinar_id):
    """Every column, updated_at included: 'identical' means untouched, not only equal figures."""
    return owner.execute(f"select * from {table} where webinar_id = %s order by 1, 2", (webinar_id,)).fetchall()


@pytest.fixture
def generated(owner, make_tenant):
    """A webinar with 40 viewers over 95 minutes of overlapping, reconnecting sessions."""
    tenant = make_tenant()
    # A fixed offset from a bucket boundary: the same seed gives the same spans against the buckets.
    start = brute_force.bucket_of(datetime.now(UTC) - timedelta(hours=2)) + timedelta(seconds=7)
    sessions = brute_force.generate_sessions(tenant.webinar_id, start, 95, viewers=40, seed=5)
    brute_force.insert_sessions(owner, tenant, sessions)
    return tenant, sessions


def test_generated_data_is_what_the_test_claims(generated):
    _, sessions = generated
    spans = brute_force.spans_by_user(sessions)
    assert any(len(brute_force.merge(s)) > 1 for s in spans.values()), "some viewer rejoins"
    assert any(len(brute_force.merge(s)) < len(s) for s in spans.values()), "some sessions overlap"
    assert any(brute_force.bucket_of(s) != brute_force.bucket_of(e) for v in spans.values() for s, e in v)
    assert any(ex is None for *_, ex in sessions), "some sessions are still open"


def test_access_logs_match_brute_force_and_a_second_run_changes_nothing(worker, owner, settings, generated):
    tenant, sessions = generated
    access_logs.run(worker, settings, webinar_ids=[tenant.webinar_id])
    assert stored_access_logs(owner, tenant.webinar_id) == brute_force.access_logs(sessions)
    first = whole_rows(owner, "webinar_access_logs", tenant.webinar_id)
    result = access_logs.run(worker, settings, webinar_ids=[tenant.webinar_id])
    assert result["rows_written"] == 0
    assert whole_rows(owner, "webinar_access_logs", tenant.webinar_id) == first


def test_attendance_matches_brute_force_and_a_second_run_changes_nothing(worker, owner, settings, generated):
    tenant, sessions = generated
    attendance.run(worker, settings, webinar_ids=[tenant.webinar_id])
    assert stored_attendance(owner, tenant.webinar_id) == brute_force.attendance(sessions)
    first = whole_rows(owner, "webinar_attendance", tenant.webinar_id)
    assert attendance.run(worker, settings, webinar_ids=[tenant.webinar_id])["rows_written"] == 0
    assert whole_rows(owner, "webinar_attendance", tenant.webinar_id) == first


def test_scheduled_runs_are_incremental_and_match_brute_force(worker, owner, settings, make_tenant):
    """Sessions as the hot path writes them (times up to now), rolled up by the scheduled,
    watermark-driven runs: the second run reads only what changed and still matches."""
    tenant = make_tenant()
    now = datetime.now(UTC)
    sessions = brute_force.generate_sessions(tenant.webinar_id, now - timedelta(minutes=8), 8, viewers=12, seed=7)
    brute_force.insert_sessions(owner, tenant, sessions)
    for job in (access_logs, attendance):
        job.run(worker, settings)
    assert stored_access_logs(owner, tenant.webinar_id) == brute_force.access_logs(sessions)
    assert stored_attendance(owner, tenant.webinar_id) == brute_force.attendance(sessions)

    # Two minutes later: a viewer's open session got a heartbeat, another viewer rejoined.
    owner.execute(
        """update webinar_user_sessions set last_heartbeat_at = now()
           where webinar_id = %s and exited_at is null""",
        (tenant.webinar_id,),
    )
    later = datetime.now(UTC)
    rejoiner = sessions[0][1]
    extra = [(tenant.webinar_id, rejoiner, later - timedelta(seconds=20), later, None)]
    brute_force.insert_sessions(owner, tenant, extra)
    current = owner.execute(
        """select webinar_id, user_id, entered_at, last_heartbeat_at, exited_at
           from webinar_user_sessions where webinar_id = %s""",
        (tenant.webinar_id,),
    ).fetchall()
    sessions = [tuple(row.values()) for row in current]
    for job in (access_logs, attendance):
        result = job.run(worker, settings)
        assert not result["full"]
    assert stored_access_logs(owner, tenant.webinar_id) == brute_force.access_logs(sessions)
    assert stored_attendance(owner, tenant.webinar_id) == brute_force.attendance(sessions)
    first = whole_rows(owner, "webinar_access_logs", tenant.webinar_id)
    access_logs.run(worker, settings)
    assert whole_rows(owner, "webinar_access_logs", tenant.webinar_id) == first


def _run_in_thread(fn):
    outcome = {}

    def target():
        try:
            outcome["result"] = fn()
        except Exception as exc:  # noqa: BLE001 - the test inspects it
            outcome["error"] = exc

    thread = threading.Thread(target=target)
    thread.start()
    return thread, outcome


def _wait_until_blocked(owner, timeout=10):
    """The pid of the eventflow_worker backend waiting for a lock."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        row = owner.execute(
            """select pid from pg_stat_activity
               where usename = 'eventflow_worker' and wait_event_type = 'Lock'"""
        ).fetchone()
        if row:
            return row["pid"]
        time.sleep(0.05)
    raise AssertionError("the job never reached its write")


def test_a_job_killed_halfway_leaves_the_last_result_and_a_rerun_completes_it(
    worker, owner, settings, services, generated
):
    tenant, sessions = generated
    half = [s for s in sessions if s[1] in {u for _, u, *_ in sessions[: len(sessions) // 2]}]
    owner.execute("delete from webinar_user_sessions where webinar_id = %s", (tenant.webinar_id,))
    brute_force.insert_sessions(owner, tenant, half)
    access_logs.run(worker, settings, webinar_ids=[tenant.webinar_id])
    before = whole_rows(owner, "webinar_access_logs", tenant.webinar_id)
    assert stored_access_logs(owner, tenant.webinar_id) == brute_force.access_logs(half)

    brute_force.insert_sessions(owner, tenant, [s for s in sessions if s not in half])
    with psycopg.connect(services["owner_url"], row_factory=dict_row) as blocker:
        blocker.execute("lock table webinar_access_logs in share mode")  # the job computes, then waits to write
        with psycopg.connect(services["worker_url"], row_factory=dict_row) as doomed:
            thread, outcome = _run_in_thread(lambda: access_logs.run(doomed, settings, webinar_ids=[tenant.webinar_id]))
            pid = _wait_until_blocked(owner)
            owner.execute("select pg_terminate_backend(%s::integer)", (pid,))
            thread.join(10)
        blocker.rollback()
    assert isinstance(outcome.get("error"), psycopg.OperationalError)
    assert whole_rows(owner, "webinar_access_logs", tenant.webinar_id) == before

    access_logs.run(worker, settings, webinar_ids=[tenant.webinar_id])
    assert stored_access_logs(owner, tenant.webinar_id) == brute_force.access_logs(sessions)


def test_the_job_retries_after_its_connection_is_killed(owner, settings, services, generated, monkeypatch):
    tenant, sessions = generated
    monkeypatch.setenv("WORKER_DATABASE_URL", services["worker_url"])
    with psycopg.connect(services["owner_url"], row_factory=dict_row) as blocker:
        blocker.execute("lock table webinar_attendance in share mode")
        thread, outcome = _run_in_thread(lambda: attendance.rollup_attendance(webinar_ids=[tenant.webinar_id]))
        owner.execute("select pg_terminate_backend(%s::integer)", (_wait_until_blocked(owner),))
        blocker.rollback()
    thread.join(30)
    assert "error" not in outcome, outcome
    assert stored_attendance(owner, tenant.webinar_id) == brute_force.attendance(sessions)


def test_a_second_run_waiting_on_the_first_is_skipped(worker, services, settings):
    with psycopg.connect(services["worker_url"], row_factory=dict_row) as other:
        with other.transaction():
            other.execute("select pg_advisory_xact_lock(hashtext('eventflow.rollup.access_logs'))")
            assert "skipped" in access_logs.run(worker, settings)


def test_watermarks_are_the_workers_alone(owner, run_as):
    row = owner.execute(
        """select relrowsecurity, relforcerowsecurity, (select count(*) from pg_policy where polrelid = c.oid) as n
           from pg_class c where oid = 'rollup.watermarks'::regclass"""
    ).fetchone()
    assert row == {"relrowsecurity": True, "relforcerowsecurity": True, "n": 1}
    from eventflow import db

    with pytest.raises(psycopg.errors.InsufficientPrivilege):
        run_as(db.NO_CONTEXT, "select * from rollup.watermarks")


def _registered(scheduler):
    return sorted(
        (j.func_name, j.queue_name, j.interval, j.job_options.get("job_timeout")) for j in scheduler.get_jobs()
    )


def test_loading_the_schedule_twice_registers_the_same_jobs_once(app):
    connection = app.extensions["eventflow.redis"]
    first, second = CronScheduler(connection), CronScheduler(connection)
    first.load_config_from_file("jobs/schedule.py")
    second.load_config_from_file("jobs/schedule.py")
    assert _registered(first) == _registered(second)
    assert len(_registered(first)) == len(schedule.SCHEDULE) == len({name for name, *_ in _registered(first)})
    assert {queue for _, queue, *_ in _registered(first)} <= set(QUEUES)
    assert all(timeout for *_, timeout in _registered(first))


def test_worker_health_fails_without_workers_and_passes_with_one(app):
    from rq import Worker

    connection = app.extensions["eventflow.redis"]
    runner = app.test_cli_runner()
    result = runner.invoke(args=["worker-health", "--no-schedule"])
    assert result.exit_code == 1
    assert "no live worker serves queue maintenance" in result.output
    worker = Worker(list(QUEUES), connection=connection, name=f"test-{uuid.uuid4().hex[:8]}")
    worker.register_birth()
    try:
        healthy, report = health.check(connection, schedule=False)
        assert healthy, report
        assert set(report["queues"]) == set(QUEUES)
    finally:
        worker.register_death()


def test_marketing_stats_match_brute_force(worker, owner, settings, make_tenant):
    from zoneinfo import ZoneInfo

    from jobs import marketing

    tenant = make_tenant(webinars=2)
    first, second = tenant.webinar_ids
    campaign_a, campaign_b = uuid.uuid4(), uuid.uuid4()
    links = {}
    for name, campaign, webinar in (("a1", campaign_a, first), ("a2", campaign_a, second), ("b1", campaign_b, first)):
        links[name] = owner.execute(
            """insert into campaign_link_meta (client_id, agency_id, campaign_id, target_webinar_id, utm_source)
               values (%s, %s, %s, %s, %s) returning id""",
            (tenant.client_id, tenant.agency_id, campaign, webinar, name),
        ).fetchone()["id"]
    seoul_midnight = datetime(2024, 3, 1, 15, 0, tzinfo=UTC)  # 2024-03-02 00:00 in Asia/Seoul
    registrants = []  # (webinar, user, link name or None, registered_at, watch seconds or None)
    plans = [
        ("a1", -1, 3000),  # 23:59:59 on 1 March in Seoul, attended (length 90 min, share 0.5: 2700 s)
        ("a1", 0, 60),  # 2 March, watched a minute: not attended
        ("a2", 0, 2700),  # 2 March, exactly the threshold: attended
        ("a2", 3600, None),  # 2 March, no-show
        ("b1", 0, 5000),
        (None, 0, 5000),  # not through a campaign: counts nowhere here
    ]
    for link, offset, watch in plans:
        webinar = second if link == "a2" else first
        user = uuid.uuid4()
        owner.execute(
            """insert into registrations (webinar_id, user_id, client_id, agency_id, campaign_link_id, registered_at)
               values (%s, %s, %s, %s, %s, %s)""",
            (
                webinar,
                user,
                tenant.client_id,
                tenant.agency_id,
                links.get(link),
                seoul_midnight + timedelta(seconds=offset),
            ),
        )
        if watch is not None:
            entered = datetime.now(UTC) - timedelta(hours=3)
            left = entered + timedelta(seconds=watch)
            brute_force.insert_sessions(owner, tenant, [(webinar, user, entered, left, left)])
        registrants.append((link, offset, watch))
    owner.execute(
        """insert into email_campaigns (id, client_id, agency_id, subject, status, recipients_count, sent_at)
           values (%s, %s, %s, 'Invite', 'sent', 500, %s), (gen_random_uuid(), %s, %s, 'Draft', 'draft', 900, null)""",
        (
            campaign_a,
            tenant.client_id,
            tenant.agency_id,
            seoul_midnight - timedelta(hours=1),
            tenant.client_id,
            tenant.agency_id,
        ),
    )

    expected = {}
    tz = ZoneInfo(settings.stats_timezone)
    for link, offset, watch in registrants:
        if link is None:
            continue
        day = (seoul_midnight + timedelta(seconds=offset)).astimezone(tz).date()
        key = (day, campaign_a if link.startswith("a") else campaign_b)
        regs, attendees, emails = expected.get(key, (0, 0, 0))
        expected[key] = (regs + 1, attendees + (watch is not None and watch >= 2700), emails)
    email_day = (seoul_midnight - timedelta(hours=1)).astimezone(tz).date()
    regs, attendees, _ = expected.get((email_day, campaign_a), (0, 0, 0))
    expected[(email_day, campaign_a)] = (regs, attendees, 500)

    def stored():
        rows = owner.execute(
            """select day, campaign_id, registrations, attendees, emails_sent
               from marketing_stats_daily where client_id = %s""",
            (tenant.client_id,),
        ).fetchall()
        return {(r["day"], r["campaign_id"]): (r["registrations"], r["attendees"], r["emails_sent"]) for r in rows}

    attendance.run(worker, settings, webinar_ids=tenant.webinar_ids)
    marketing.run(worker, settings, full=True)
    assert stored() == expected
    before = owner.execute(
        "select * from marketing_stats_daily where client_id = %s order by 2, 3", (tenant.client_id,)
    )
    before = before.fetchall()
    marketing.run(worker, settings)
    assert (
        owner.execute(
            "select * from marketing_stats_daily where client_id = %s order by 2, 3", (tenant.client_id,)
        ).fetchall()
        == before
    )

    # A registration arriving now through campaign B is picked up by the next incremental run.
    owner.execute(
        """insert into registrations (webinar_id, user_id, client_id, agency_id, campaign_link_id)
           values (%s, %s, %s, %s, %s)""",
        (first, uuid.uuid4(), tenant.client_id, tenant.agency_id, links["b1"]),
    )
    assert not marketing.run(worker, settings)["full"]
    today = datetime.now(tz).date()
    assert stored()[(today, campaign_b)] == (1, 0, 0)


@pytest.mark.parametrize(
    "args, complaint",
    [
        (["rollup", "run", "marketing", "--webinar", "00000000-0000-0000-0000-000000000001"], "--webinar"),
        (["rollup", "run", "presence", "--full"], "--full"),
    ],
)
def test_rollup_run_refuses_options_a_job_would_ignore(app, args, complaint):
    result = app.test_cli_runner().invoke(args=args)
    assert result.exit_code == 2 and complaint in result.output


def test_a_statement_timeout_is_not_retried():
    from jobs.worker import job

    calls = []

    @job("maintenance", timeout=10, retries=2)
    def times_out():
        calls.append(1)
        raise psycopg.errors.QueryCanceled("canceling statement due to statement timeout")

    with pytest.raises(psycopg.errors.QueryCanceled):
        times_out()
    assert calls == [1]
