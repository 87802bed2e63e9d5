"""A fresh benchmark database on the machine's PostgreSQL, migrated, with one crowd seeded.

The database is dropped and created again on every `bench run` (capacity runs keep one database
and seed a fresh webinar per step). Migrations run as the superuser, the app connects as
`eventflow_app`, exactly as in production (contract §3).
"""

import os
import subprocess
import sys
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import psycopg
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from eventflow import auth

MIGRATE = "from eventflow.migrations import upgrade; import sys; upgrade(sys.argv[1], log=lambda m: None)"

CREATE_AGENCY = "insert into agencies (name) values ('Bench agency') returning id"
CREATE_CLIENT = "insert into clients (agency_id, name) values (%s, 'Bench client') returning id"
CREATE_WEBINAR = """
insert into webinars (client_id, agency_id, slug, title, status, starts_at, ends_at)
values (%s, %s, %s, 'Bench webinar', 'live', %s, %s) returning id
"""
# N registered viewers in one statement; their display names go into their tokens too.
REGISTER_VIEWERS = """
insert into registrations (webinar_id, user_id, client_id, agency_id, display_name, registered_at)
select %s, gen_random_uuid(), %s, %s, 'Viewer ' || lpad(i::text, 6, '0'), now() - interval '1 day'
from generate_series(1, %s) i
returning user_id, display_name
"""
# Viewers already watching when the run starts: an open session each, live since a while ago,
# last seen just now (as if their timers had been running); what access/track would have left.
OPEN_SESSIONS = """
insert into webinar_user_sessions (webinar_id, user_id, client_id, agency_id, user_agent, entered_at, last_heartbeat_at)
select %(webinar)s, u, %(client)s, %(agency)s, 'eventflow-bench/1.0', now() - interval '20 minutes' * random(), now()
from unnest(%(users)s::uuid[]) u
returning user_id, session_id, entered_at
"""
MARK_LIVE = """
insert into webinar_live_presence
    (webinar_id, user_id, client_id, agency_id, display_name, session_id, joined_at, last_seen_at)
select %(webinar)s, s.user_id, %(client)s, %(agency)s, r.display_name, s.session_id, s.entered_at, now()
from webinar_user_sessions s
join registrations r on r.webinar_id = s.webinar_id and r.user_id = s.user_id
where s.webinar_id = %(webinar)s and s.exited_at is null
"""


@dataclass
class Crowd:
    """What one run needs to drive a webinar: its id and ready tokens."""

    webinar_id: str
    client_id: str
    viewer_tokens: list
    viewer_sessions: list  # the open session of each viewer already watching, else None
    admin_tokens: list
    extra_tokens: list = field(default_factory=list)  # unregistered viewers, for saturation runs


def role_url(url, user):
    params = conninfo_to_dict(url)
    params.pop("password", None)
    params["user"] = user
    return make_conninfo(**params)


def database_urls(server_url, name):
    owner = make_conninfo(server_url, dbname=name)
    return {
        "owner": owner,
        "app": role_url(owner, "eventflow_app"),
        "worker": role_url(owner, "eventflow_worker"),
    }


def recreate(server_url, name, source_dir, reuse=False):
    """Drop and create `name` (unless `reuse`), enable pg_stat_statements in it and migrate it;
    return its URLs."""
    if not name.replace("_", "").isalnum():
        raise ValueError(f"not a plain database name: {name!r}")
    if not reuse:
        with psycopg.connect(server_url, autocommit=True) as conn:
            conn.execute(f"drop database if exists {name} with (force)")
            conn.execute(f"create database {name}")
    urls = database_urls(server_url, name)
    with psycopg.connect(urls["owner"], autocommit=True) as conn:
        conn.execute("create extension if not exists pg_stat_statements")
    # The same function `eventflow db upgrade` runs, from the source tree under test.
    subprocess.run([sys.executable, "-c", MIGRATE, urls["owner"]], cwd=source_dir, check=True)
    return urls


def seed_crowd(owner_url, secret, audience, viewers, admins, present=0, extra=0, ttl=6 * 3600):
    """One live webinar with `viewers` registered viewers, the first `present` of them watching
    already, and `admins` client admins; tokens for all of them, plus `extra` tokens of viewers
    who are not registered."""
    now = datetime.now(UTC)
    with psycopg.connect(owner_url) as conn, conn.transaction():
        agency_id = conn.execute(CREATE_AGENCY).fetchone()[0]
        client_id = conn.execute(CREATE_CLIENT, (agency_id,)).fetchone()[0]
        slug = f"bench-{uuid.uuid4().hex[:10]}"
        webinar_id = conn.execute(
            CREATE_WEBINAR, (client_id, agency_id, slug, now - timedelta(minutes=5), now + timedelta(hours=6))
        ).fetchone()[0]
        rows = conn.execute(REGISTER_VIEWERS, (webinar_id, client_id, agency_id, viewers)).fetchall() if viewers else []
        rows.sort(key=lambda row: row[1])
        sessions = {}
        if present:
            ids = {"webinar": webinar_id, "client": client_id, "agency": agency_id}
            opened = conn.execute(OPEN_SESSIONS, {**ids, "users": [row[0] for row in rows[:present]]}).fetchall()
            sessions = {user_id: str(session_id) for user_id, session_id, _ in opened}
            conn.execute(MARK_LIVE, ids)
    settle(owner_url)

    def token(**claims):
        return auth.issue(secret, audience, ttl=ttl, **claims)

    viewer_tokens = [token(role=auth.PARTICIPANT, sub=user_id, name=name) for user_id, name in rows]
    admin_tokens = [token(role=auth.CLIENT_ADMIN, sub=uuid.uuid4(), client_id=client_id) for _ in range(admins)]
    extra_tokens = [token(role=auth.PARTICIPANT, sub=uuid.uuid4(), name=f"Guest {i:06d}") for i in range(extra)]
    viewer_sessions = [sessions.get(user_id) for user_id, _ in rows]
    return Crowd(str(webinar_id), str(client_id), viewer_tokens, viewer_sessions, admin_tokens, extra_tokens)


def settle(owner_url):
    """Write the seeding out before the crowd starts: a checkpoint, then the kernel's dirty pages.
    Otherwise its writeback falls into the measured run, where the disk then made COMMITs wait up
    to 1.2 s for their WAL flush (seen in PostgreSQL's log at N = 4,000), a cost of the harness
    and not of the crowd."""
    with psycopg.connect(owner_url, autocommit=True) as conn:
        conn.execute("checkpoint")
    os.sync()
