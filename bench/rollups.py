"""How long the rollups and the dashboard take on a big webinar: 20,000 viewers, three hours.

    .venv/bin/python bench/rollups.py [--viewers 20000] [--hours 3]

Runs on its own private PostgreSQL and Redis (the embedded default, in a temporary directory),
so it touches nothing else. Generates the sessions set-based: every viewer joins in the first
hour, about a third leave and rejoin, a fifth have a second tab overlapping the first, a quarter
are still connected (open sessions, heartbeats up to now). Then times, as eventflow_worker:
each rollup's first (full) run, a second run with nothing new, and an incremental run after
one minute of heartbeats from everyone still connected; then, as a client admin, the dashboard
with all sections and the attendance export.
"""

import argparse
import statistics
import tempfile
import time
import uuid

import psycopg
from psycopg.rows import dict_row

from eventflow import auth, create_app
from eventflow.config import Settings
from eventflow.embedded import EmbeddedServices
from eventflow.migrations import upgrade
from jobs import access_logs, attendance, marketing

GENERATE = """
with viewers as (
    select gen_random_uuid() as user_id, n,
           %(starts)s::timestamptz + make_interval(secs => (random() * 3600)::int) as joined
    from generate_series(1, %(viewers)s) n
),
registered as (
    insert into registrations (webinar_id, user_id, client_id, agency_id, display_name, campaign_link_id, registered_at)
    select %(webinar)s, user_id, %(client)s, %(agency)s, 'Viewer ' || n, case when n %% 3 = 0 then %(link)s::uuid end,
           %(starts)s::timestamptz - make_interval(days => n %% 10)
    from viewers
    returning user_id
),
spans as (
    -- first session; a third leave after a while and come back; a fifth open a second tab
    select user_id, joined as entered,
           case when n %% 3 = 0 then joined + make_interval(secs => 600 + (random() * 1800)::int)
                else least(%(ends)s::timestamptz, joined + make_interval(secs => (random() * 9000)::int)) end as ended,
           n %% 4 = 0 and n %% 3 <> 0 as still_open
    from viewers
    union all
    select user_id, joined + make_interval(secs => 3000 + (random() * 600)::int),
           least(%(ends)s::timestamptz, joined + make_interval(secs => 3600 + (random() * 5400)::int)), false
    from viewers where n %% 3 = 0
    union all
    select user_id, joined + make_interval(secs => 60), joined + make_interval(secs => 1200), false
    from viewers where n %% 5 = 0
)
insert into webinar_user_sessions (webinar_id, user_id, client_id, agency_id, entered_at, last_heartbeat_at, exited_at)
select %(webinar)s, user_id, %(client)s, %(agency)s, entered,
       case when still_open then %(ends)s::timestamptz - make_interval(secs => (random() * 100)::int) else ended end,
       case when still_open then null else ended end
from spans
"""


def timed(label, fn, results):
    started = time.perf_counter()
    outcome = fn()
    elapsed = time.perf_counter() - started
    results.append((label, elapsed, outcome))
    print(f"{label:<58} {elapsed * 1000:9.0f} ms   {outcome if isinstance(outcome, dict) else ''}", flush=True)
    return outcome


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--viewers", type=int, default=20_000)
    parser.add_argument("--hours", type=float, default=3)
    parser.add_argument("--repeat", type=int, default=5, help="dashboard requests to time")
    args = parser.parse_args()

    services = EmbeddedServices(tempfile.mkdtemp(prefix="eventflow-bench-"))
    owner_url = services.start_postgres()
    redis_url = services.start_redis()
    upgrade(owner_url, log=lambda message: None)
    worker_url = services.role_url(owner_url, "eventflow_worker")
    secret = "bench-" + uuid.uuid4().hex * 2
    settings = Settings.from_env(
        {},
        database_url=services.role_url(owner_url, "eventflow_app"),
        database_owner_url=owner_url,
        worker_database_url=worker_url,
        redis_url=redis_url,
        jwt_secret=secret,
        state_dir=services.state_dir,
    )
    results = []
    try:
        with psycopg.connect(owner_url, autocommit=True, row_factory=dict_row) as owner:
            agency = owner.execute("insert into agencies (name) values ('Bench') returning id").fetchone()["id"]
            client = owner.execute(
                "insert into clients (agency_id, name) values (%s, 'Bench client') returning id", (agency,)
            ).fetchone()["id"]
            times = owner.execute(
                "select now() - make_interval(secs => %s) as starts, now() as ends", (int(args.hours * 3600),)
            ).fetchone()
            webinar = owner.execute(
                """insert into webinars (client_id, agency_id, slug, title, status, starts_at, ends_at)
                   values (%s, %s, 'bench', 'Bench webinar', 'live', %s, %s) returning id""",
                (client, agency, times["starts"], times["ends"] + (times["ends"] - times["starts"]) / 10),
            ).fetchone()["id"]
            link = owner.execute(
                """insert into campaign_link_meta (client_id, agency_id, campaign_id, target_webinar_id)
                   values (%s, %s, gen_random_uuid(), %s) returning id""",
                (client, agency, webinar),
            ).fetchone()["id"]
            params = dict(times, webinar=webinar, client=client, agency=agency, link=link, viewers=args.viewers)
            timed("generate viewers and sessions (owner)", lambda: owner.execute(GENERATE, params).rowcount, results)
            owner.execute("analyze")
            counts = owner.execute(
                "select count(*) as sessions, count(distinct user_id) as viewers from webinar_user_sessions"
            ).fetchone()
            print(f"{counts['viewers']} viewers, {counts['sessions']} sessions over {args.hours} h", flush=True)

            with psycopg.connect(worker_url, row_factory=dict_row) as worker:
                for job in (access_logs, attendance, marketing):
                    timed(f"{job.JOB_NAME}: first run (everything)", lambda j=job: j.run(worker, settings), results)
                for job in (access_logs, attendance, marketing):
                    timed(f"{job.JOB_NAME}: next run, nothing new", lambda j=job: j.run(worker, settings), results)
                # One minute later: everyone still connected has sent a heartbeat.
                owner.execute("update webinar_user_sessions set last_heartbeat_at = now() where exited_at is null")
                for job in (access_logs, attendance, marketing):
                    timed(
                        f"{job.JOB_NAME}: run after a minute of heartbeats",
                        lambda j=job: j.run(worker, settings),
                        results,
                    )

        app = create_app(settings)
        token = auth.issue(secret, "eventflow", role=auth.CLIENT_ADMIN, sub=uuid.uuid4(), client_id=client)
        headers = {"Authorization": f"Bearer {token}"}
        http = app.test_client()
        for query, label in (
            ("stats", "dashboard, all sections"),
            ("stats?sections=access,sessions,registrants", "dashboard, access+sessions+registrants"),
            ("attendance", "attendance export, JSON"),
            ("attendance?format=csv", "attendance export, CSV"),
        ):
            samples = []
            for _ in range(args.repeat):
                started = time.perf_counter()
                response = http.get(f"/api/webinars/{webinar}/{query}", headers=headers)
                body = response.get_data()
                samples.append(time.perf_counter() - started)
                assert response.status_code == 200, body[:300]
            print(
                f"{label:<58} median {statistics.median(samples) * 1000:6.0f} ms, "
                f"min {min(samples) * 1000:6.0f} ms over {args.repeat} ({len(body)} bytes)",
                flush=True,
            )
        stats = http.get(f"/api/webinars/{webinar}/stats?sections=access,sessions", headers=headers).json
        print(
            f"peak concurrent {stats['access']['peak_concurrent']}, buckets {len(stats['access']['series'])}, "
            f"unique viewers {stats['sessions']['unique_viewers']}, sessions {stats['sessions']['sessions']}",
            flush=True,
        )
        app.extensions["eventflow.pool"].close()
    finally:
        services.stop()


if __name__ == "__main__":
    main()
