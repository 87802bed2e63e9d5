"""`seed demo`: the tenant tree in Python (it needs the ids for tokens), the rest in demo.sql."""

import uuid
from datetime import UTC, datetime, timedelta

import psycopg

from eventflow import auth
from eventflow.migrations import SQL_DIR

DEMO_SQL = SQL_DIR / "seed" / "demo.sql"

CREATE_AGENCY = "insert into agencies (name) values (%s) returning id"
CREATE_CLIENT = "insert into clients (agency_id, name) values (%s, %s) returning id"
CREATE_WEBINAR = """
insert into webinars (client_id, agency_id, slug, title, description, status, starts_at, ends_at)
values (%s, %s, %s, %s, %s, %s, %s, %s)
returning id
"""
CREATE_SEED_SCOPE = "create temp table seed_webinars (id uuid primary key) on commit drop"
ADD_TO_SEED_SCOPE = "insert into seed_webinars (id) values (%s)"
ANY_WEBINAR = "select exists (select from webinars)"
ONE_VIEWER = """
select user_id, display_name from registrations
where webinar_id = %s order by registered_at, user_id limit 1
"""

AGENCIES = {
    "Seoul Events Agency": ["Hanbit Bank", "Nuri Pharma"],
    "Pacific Webcasts": ["Blue Harbor Software", "Jeju Tourism Board"],
}


def _webinar_plans(now):
    """A live webinar that started an hour ago and one that ended last week."""
    return [
        ("live", "Quarterly product update", now - timedelta(hours=1), now + timedelta(hours=1)),
        ("ended", "Onboarding masterclass", now - timedelta(days=7), now - timedelta(days=7, hours=-2)),
    ]


def is_empty(owner_url):
    with psycopg.connect(owner_url) as conn:
        return not conn.execute(ANY_WEBINAR).fetchone()[0]


def seed_demo(owner_url, secret, audience, token_ttl=86400):
    """Create the demo data; return what was made, with ready tokens."""
    now = datetime.now(UTC)
    made = {"agencies": []}
    with psycopg.connect(owner_url) as conn, conn.transaction():
        conn.execute(CREATE_SEED_SCOPE)
        webinars = []
        for agency_name, client_names in AGENCIES.items():
            agency_id = conn.execute(CREATE_AGENCY, (agency_name,)).fetchone()[0]
            agency = {"id": agency_id, "name": agency_name, "clients": []}
            for client_name in client_names:
                client_id = conn.execute(CREATE_CLIENT, (agency_id, client_name)).fetchone()[0]
                client = {"id": client_id, "name": client_name, "webinars": []}
                for status, title, starts_at, ends_at in _webinar_plans(now):
                    slug = f"{status}-{uuid.uuid4().hex[:8]}"
                    webinar_id = conn.execute(
                        CREATE_WEBINAR,
                        (
                            client_id,
                            agency_id,
                            slug,
                            f"{client_name}: {title}",
                            f"{title} by {client_name}.",
                            status,
                            starts_at,
                            ends_at,
                        ),
                    ).fetchone()[0]
                    conn.execute(ADD_TO_SEED_SCOPE, (webinar_id,))
                    webinar = {"id": webinar_id, "slug": slug, "status": status, "title": f"{client_name}: {title}"}
                    client["webinars"].append(webinar)
                    webinars.append(webinar)
                agency["clients"].append(client)
            made["agencies"].append(agency)
        conn.execute(DEMO_SQL.read_text())
        for webinar in webinars:
            user_id, name = conn.execute(ONE_VIEWER, (webinar["id"],)).fetchone()
            webinar["participant"] = {"user_id": user_id, "name": name}

    def token(**claims):
        return auth.issue(secret, audience, ttl=token_ttl, **claims)

    for agency in made["agencies"]:
        agency["admin_token"] = token(role=auth.AGENCY_ADMIN, sub=uuid.uuid4(), agency_id=agency["id"])
        for client in agency["clients"]:
            client["admin_token"] = token(role=auth.CLIENT_ADMIN, sub=uuid.uuid4(), client_id=client["id"])
            for webinar in client["webinars"]:
                viewer = webinar["participant"]
                viewer["token"] = token(role=auth.PARTICIPANT, sub=viewer["user_id"], name=viewer["name"])
    return made
