"""What only a Citus cluster can show (deploy/citus/test.sh runs these against a coordinator and
2 workers; on plain PostgreSQL they are skipped): every table distributed or a reference table
with row-level security on every shard, every hot statement routed to one shard, and the rollups
giving the same figures as on plain PostgreSQL for the same data."""

import re
import shutil
import tempfile
import uuid
from datetime import UTC, datetime, timedelta

import psycopg
import pytest
from psycopg.rows import dict_row

from eventflow import db, dbcheck
from eventflow.access import queries as access_queries
from eventflow.chat import queries as chat_queries
from eventflow.embedded import EmbeddedServices
from eventflow.migrations import has_citus, upgrade
from eventflow.stats import queries as stats_queries
from jobs import access_logs, attendance, marketing
from tests import brute_force


@pytest.fixture(autouse=True)
def on_citus(owner):
    if not has_citus(owner):
        pytest.skip("needs a Citus cluster: deploy/citus/test.sh")


# --- the schema ---------------------------------------------------------------------------


def test_every_table_is_distributed_with_rls_on_every_shard(owner):
    assert dbcheck.distribution_problems(owner) == []
    shards = owner.execute(
        "select count(*) as n from pg_dist_shard where logicalrelid = 'webinars'::regclass"
    ).fetchone()["n"]
    assert shards > 1
    colocated = owner.execute(
        """select count(distinct colocationid) as groups from pg_dist_partition
           where logicalrelid in ('webinars'::regclass, 'messages'::regclass, 'webinar_live_presence'::regclass,
                                  'campaign_link_meta'::regclass)"""
    ).fetchone()["groups"]
    assert colocated == 1


def test_db_check_names_a_plain_table_a_shard_without_forced_rls_and_a_restrictive_policy(owner):
    owner.execute("create table public.stray_export (id int, client_id uuid)")
    owner.execute("alter table public.stray_export enable row level security, force row level security")
    owner.execute("create policy nobody on public.stray_export using (false)")
    owner.execute("select run_command_on_placements('webinars', 'alter table %s no force row level security')")
    owner.execute("create policy stray_narrowing on messages as restrictive for insert with check (false)")
    try:
        problems = dbcheck.distribution_problems(owner)
        assert "table public.stray_export: neither distributed nor a reference table on Citus" in problems
        assert any(p.startswith("table webinars: a shard on ") for p in problems)
        assert (
            "table messages: restrictive policy stray_narrowing, which Citus makes permissive on the shards"
        ) in problems
    finally:
        owner.execute("drop policy stray_narrowing on messages")
        owner.execute("drop table public.stray_export")
        owner.execute("select run_command_on_placements('webinars', 'alter table %s force row level security')")
    assert dbcheck.distribution_problems(owner) == []


# --- single-shard routing -----------------------------------------------------------------

TASK_COUNT = re.compile(r"Task Count: (\d+)")


def _task_counts(run_as, context, sql, params):
    plan = run_as(context, "explain (costs off) " + sql, params).rows
    return [int(n) for row in plan for n in TASK_COUNT.findall(row["QUERY PLAN"])]


def _hot_statements(tenant):
    webinar = {"webinar_id": tenant.webinar_id}
    poll = webinar | {"after": 0, "limit": 50, "user_id": uuid.uuid4(), "admin": True}
    return {
        "stats/access live list": (access_queries.LIVE_LIST, webinar | {"timeout": 150}),
        "messages poll": (chat_queries.POLL_MESSAGES, poll | {"feed": "messages"}),
        "questions poll": (chat_queries.POLL_QUESTIONS, poll | {"feed": "questions", "status": None}),
        "dashboard chat": (stats_queries.CHAT, webinar),
        "dashboard qa": (stats_queries.QA, webinar),
        "dashboard forms": (stats_queries.FORMS, webinar),
        "dashboard giveaways": (stats_queries.GIVEAWAYS, webinar),
        "dashboard files": (stats_queries.FILES, webinar),
        "dashboard registrants": (stats_queries.REGISTRANTS, webinar | {"share": 0.5}),
        "dashboard timeline": (stats_queries.REGISTRATION_TIMELINE, webinar | {"tz": "Asia/Seoul"}),
        "dashboard live now": (stats_queries.LIVE_NOW, webinar | {"timeout": 150}),
        "dashboard access series": (stats_queries.ACCESS_SERIES, webinar),
        "dashboard survey": (stats_queries.SURVEY, webinar),
        "dashboard sessions": (stats_queries.SESSIONS, webinar),
        "attendance export": (stats_queries.ATTENDANCE, webinar | {"share": 0.5}),
    }


def test_explain_shows_each_hot_statement_on_one_shard(run_as, make_tenant):
    tenant = make_tenant()
    admin = db.RequestContext(role="client_admin", client_id=tenant.client_id)
    for name, (sql, params) in _hot_statements(tenant).items():
        counts = _task_counts(run_as, admin, sql, params)
        assert counts and set(counts) == {1}, f"{name}: task counts {counts}"
    # The check can fail: a statement that names no webinar runs on every shard.
    assert _task_counts(run_as, admin, "select count(*) from messages", None)[0] > 1


@pytest.fixture
def single_shard_only(owner):
    """Make every multi-shard statement of eventflow_app an error, for connections opened now."""
    owner.execute("alter role eventflow_app set citus.multi_task_query_log_level = 'error'")
    yield
    owner.execute("alter role eventflow_app reset citus.multi_task_query_log_level")


def test_every_hot_request_runs_single_shard_statements_only(single_shard_only, make_app, make_tenant):
    client = make_app().test_client()
    tenant = make_tenant()
    base = f"/api/webinars/{tenant.webinar_id}"
    _user, viewer = tenant.participant(name="Viewer")
    admin = tenant.client_admin()

    assert client.post(f"{base}/register", headers=viewer).status_code == 201
    session = client.post(f"{base}/access/track", headers=viewer, json={}).json["session_id"]
    assert client.post(f"{base}/presence/ping", headers=viewer, json={"session_id": session}).status_code == 200
    assert client.get(f"{base}/stats/access", headers=viewer).json["live_count"] == 1
    assert client.post(f"{base}/messages", headers=viewer, json={"body": "hello"}).status_code == 201
    assert len(client.get(f"{base}/messages?after=0", headers=viewer).json["messages"]) == 1
    question = client.post(f"{base}/questions", headers=viewer, json={"body": "why?", "is_public": True}).json
    assert client.post(f"{base}/questions/{question['id']}/upvote", headers=viewer).status_code == 200
    answered = client.patch(f"{base}/questions/{question['id']}", headers=admin, json={"answer": "because"})
    assert answered.status_code == 200
    assert len(client.get(f"{base}/questions?after=0", headers=viewer).json["questions"]) == 1
    sections = "chat,qa,forms,giveaways,files,registrants,access,survey,sessions"
    assert client.get(f"{base}/stats?sections={sections}", headers=admin).status_code == 200
    assert client.post(f"{base}/access/exit", headers=viewer, json={"session_id": session}).status_code == 200


def test_a_multi_shard_statement_is_refused_under_the_guard(single_shard_only, services):
    with psycopg.connect(services["app_url"]) as conn:
        with pytest.raises(psycopg.Error, match="multi-task query"):
            conn.execute("select count(*) from messages")


# --- jobs ---------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def plain_owner_url():
    """A plain PostgreSQL (the embedded one) with the same schema, to compare with."""
    state_dir = tempfile.mkdtemp(prefix="eventflow-plain-")
    embedded = EmbeddedServices(state_dir)
    owner_url = embedded.start_postgres()
    upgrade(owner_url, log=lambda message: None)
    yield owner_url
    embedded.stop()
    shutil.rmtree(state_dir, ignore_errors=True)


def _fill(owner_url, data):
    """The same tenant, links, registrations, sessions and email campaign in one database."""
    with psycopg.connect(owner_url, autocommit=True) as conn, conn.cursor() as cur:
        t = data["tenant"]
        cur.execute("insert into agencies (id, name) values (%s, 'Same agency')", (t["agency"],))
        cur.execute(
            "insert into clients (id, agency_id, name) values (%s, %s, 'Same client')", (t["client"], t["agency"])
        )
        for webinar in data["webinars"]:
            cur.execute(
                """insert into webinars (id, client_id, agency_id, slug, title, status, starts_at, ends_at)
                   values (%s, %s, %s, 'same', 'Same webinar', 'live', %s, %s)""",
                (webinar, t["client"], t["agency"], data["starts"], data["ends"]),
            )
            cur.execute(
                """insert into campaign_link_meta (id, client_id, agency_id, campaign_id, target_webinar_id)
                   values (%s, %s, %s, %s, %s)""",
                (data["links"][webinar], t["client"], t["agency"], data["campaign"], webinar),
            )
        cur.executemany(
            """insert into registrations (webinar_id, user_id, client_id, agency_id, campaign_link_id, registered_at)
               values (%s, %s, %s, %s, %s, %s)""",
            data["registrations"],
        )
        cur.executemany(
            """insert into webinar_user_sessions (webinar_id, user_id, client_id, agency_id, entered_at,
                                                  last_heartbeat_at, exited_at)
               values (%s, %s, %s, %s, %s, %s, %s)""",
            [(w, u, t["client"], t["agency"], s, hb, ex) for (w, u, s, hb, ex) in data["sessions"]],
        )
        cur.execute(
            """insert into email_campaigns (id, client_id, agency_id, subject, status, recipients_count, sent_at)
               values (%s, %s, %s, 'Invite', 'sent', 700, %s)""",
            (data["campaign"], t["client"], t["agency"], data["starts"] - timedelta(days=1)),
        )


ROLLED_UP = {
    "access logs": """select webinar_id, time_bucket, concurrent_viewers, unique_viewers
                      from webinar_access_logs where client_id = %(client)s order by 1, 2""",
    "attendance": """select webinar_id, user_id, first_join_at, last_leave_at, watch_seconds, sessions, rejoins
                     from webinar_attendance where client_id = %(client)s order by 1, 2""",
    "marketing": """select client_id, agency_id, day, campaign_id, registrations, attendees, emails_sent
                    from marketing_stats_daily where client_id = %(client)s order by 3, 4""",
}


def _rollups(owner_url, settings, data):
    worker_url = EmbeddedServices.role_url(owner_url, "eventflow_worker")
    with psycopg.connect(worker_url, row_factory=dict_row) as worker:
        attendance.run(worker, settings, webinar_ids=data["webinars"])
        access_logs.run(worker, settings, webinar_ids=data["webinars"])
        marketing.run(worker, settings, full=True)
    with psycopg.connect(owner_url, row_factory=dict_row) as owner:
        return {
            name: owner.execute(sql, {"client": data["tenant"]["client"]}).fetchall() for name, sql in ROLLED_UP.items()
        }


def test_the_rollups_give_the_same_figures_as_on_plain_postgresql(services, settings, plain_owner_url):
    starts = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=2)
    webinars = [uuid.uuid4(), uuid.uuid4()]
    sessions = [s for i, w in enumerate(webinars) for s in brute_force.generate_sessions(w, starts, 90, 40, seed=i)]
    links = {w: uuid.uuid4() for w in webinars}
    viewers = sorted({(w, u) for w, u, *_ in sessions})
    data = {
        "tenant": {"agency": uuid.uuid4(), "client": uuid.uuid4()},
        "webinars": webinars,
        "starts": starts,
        "ends": starts + timedelta(minutes=90),
        "campaign": uuid.uuid4(),
        "links": links,
        "sessions": sessions,
        "registrations": [],
    }
    tenant = data["tenant"]
    data["registrations"] = [
        (w, u, tenant["client"], tenant["agency"], links[w] if n % 2 else None, starts - timedelta(hours=n % 30))
        for n, (w, u) in enumerate(viewers)
    ]
    _fill(services["owner_url"], data)
    _fill(plain_owner_url, data)

    on_citus = _rollups(services["owner_url"], settings, data)
    on_plain = _rollups(plain_owner_url, settings, data)
    assert all(on_citus.values()), "every rollup wrote rows"
    assert on_citus == on_plain
