"""The admin dashboard: every section against the rows behind it, section selection, and who
may see it (participant 403, another tenant 404, an agency admin its clients' webinars)."""

import uuid
from datetime import UTC, datetime, timedelta

import psycopg
import pytest
from psycopg.rows import dict_row

from eventflow.stats.schemas import SECTIONS
from jobs import access_logs, attendance
from tests import brute_force


@pytest.fixture
def rolled_up(services, settings):
    """Run the rollups for some webinars, as the scheduled jobs would."""

    def run(webinar_ids):
        with psycopg.connect(services["worker_url"], row_factory=dict_row) as conn:
            access_logs.run(conn, settings, webinar_ids=webinar_ids)
            attendance.run(conn, settings, webinar_ids=webinar_ids)

    return run


@pytest.fixture
def busy_webinar(owner, make_tenant, rolled_up):
    """A 90-minute webinar (started 30 min ago) with a little of everything; returns the tenant
    and what was put in."""
    tenant = make_tenant()
    w, c, a = tenant.webinar_id, tenant.client_id, tenant.agency_id
    now = datetime.now(UTC)
    users = [uuid.uuid4() for _ in range(6)]
    for i, user in enumerate(users[:5]):  # five registrants; users[5] watches without registering
        owner.execute(
            """insert into registrations (webinar_id, user_id, client_id, agency_id, display_name, registered_at)
               values (%s, %s, %s, %s, %s, %s)""",
            (w, user, c, a, f"Viewer {i}", datetime(2024, 5, 1, 3, tzinfo=UTC) + timedelta(days=i // 2)),
        )
    # users[0] watched 50 min in two overlapping tabs (attended: 45 min is half of 90),
    # users[1] 10 min then rejoined for 10 min, users[2] is still live, users[3], [4] no-shows.
    start = now - timedelta(minutes=55)
    sessions = [
        (w, users[0], start, start + timedelta(minutes=30), start + timedelta(minutes=30)),
        (w, users[0], start + timedelta(minutes=20), start + timedelta(minutes=50), start + timedelta(minutes=50)),
        (w, users[1], start, start + timedelta(minutes=10), start + timedelta(minutes=10)),
        (w, users[1], start + timedelta(minutes=15), start + timedelta(minutes=25), start + timedelta(minutes=25)),
        (w, users[2], now - timedelta(minutes=3), now, None),
        (w, users[5], start, start + timedelta(minutes=1), start + timedelta(minutes=1)),
    ]
    brute_force.insert_sessions(owner, tenant, sessions)
    owner.execute(
        """insert into webinar_live_presence (webinar_id, user_id, client_id, agency_id, last_seen_at)
           values (%s, %s, %s, %s, now()), (%s, %s, %s, %s, now() - interval '10 minutes')""",
        (w, users[2], c, a, w, users[0], c, a),
    )
    for i, user in enumerate(users[:3]):
        owner.execute(
            """insert into messages (webinar_id, client_id, agency_id, user_id, author_role, body, hidden)
               values (%s, %s, %s, %s, 'participant', 'hi', %s), (%s, %s, %s, %s, 'participant', 'again', false)""",
            (w, c, a, user, i == 0, w, c, a, user),
        )
    owner.execute(
        """insert into messages (webinar_id, client_id, agency_id, user_id, author_role, body)
           values (%s, %s, %s, %s, 'client_admin', 'welcome')""",
        (w, c, a, uuid.uuid4()),
    )
    for status, user in (("pending", users[0]), ("answered", users[0]), ("answered", users[1]), ("hidden", users[2])):
        owner.execute(
            """insert into questions (webinar_id, client_id, agency_id, user_id, body, status)
               values (%s, %s, %s, %s, 'why?', %s)""",
            (w, c, a, user, status),
        )
    form = owner.execute(
        "insert into forms (webinar_id, client_id, agency_id, title) values (%s, %s, %s, 'Leads') returning id",
        (w, c, a),
    ).fetchone()["id"]
    owner.execute(
        "insert into forms (webinar_id, client_id, agency_id, title) values (%s, %s, %s, 'Unused')", (w, c, a)
    )
    for user in users[:2]:
        owner.execute(
            """insert into form_submissions (webinar_id, form_id, user_id, client_id, agency_id)
               values (%s, %s, %s, %s, %s)""",
            (w, form, user, c, a),
        )
    drawn = owner.execute(
        """insert into draws (webinar_id, client_id, agency_id, title, winner_count, drawn_at)
           values (%s, %s, %s, 'Mug', 2, now()) returning id""",
        (w, c, a),
    ).fetchone()["id"]
    owner.execute("insert into draws (webinar_id, client_id, agency_id, title) values (%s, %s, %s, 'Later')", (w, c, a))
    for user in users[:2]:
        owner.execute(
            "insert into draw_winners (webinar_id, draw_id, user_id, client_id, agency_id) values (%s, %s, %s, %s, %s)",
            (w, drawn, user, c, a),
        )
    deck = owner.execute(
        """insert into webinar_files (webinar_id, client_id, agency_id, file_name, url)
           values (%s, %s, %s, 'deck.pdf', 'https://example.com/deck.pdf') returning id""",
        (w, c, a),
    ).fetchone()["id"]
    for user in (users[0], users[0], users[1]):
        owner.execute(
            """insert into webinar_downloads (webinar_id, file_id, user_id, client_id, agency_id)
               values (%s, %s, %s, %s, %s)""",
            (w, deck, user, c, a),
        )
    survey = owner.execute(
        """insert into event_survey_campaigns (webinar_id, client_id, agency_id, title)
           values (%s, %s, %s, 'NPS') returning id""",
        (w, c, a),
    ).fetchone()["id"]
    for user in users[:3]:
        owner.execute(
            """insert into event_survey_entries (webinar_id, campaign_id, user_id, client_id, agency_id)
               values (%s, %s, %s, %s, %s)""",
            (w, survey, user, c, a),
        )
    rolled_up([w])
    return tenant, sessions


def _stats(client, tenant, query=""):
    return client.get(f"/api/webinars/{tenant.webinar_id}/stats{query}", headers=tenant.client_admin())


def test_every_section_is_the_rows_behind_it(client, busy_webinar):
    tenant, sessions = busy_webinar
    response = _stats(client, tenant)
    assert response.status_code == 200, response.json
    stats = response.json
    assert set(stats) == {"webinar_id", *SECTIONS}
    assert stats["chat"] == {"messages": 7, "senders": 4, "hidden": 1, "from_admins": 1}
    assert stats["qa"] == {"asked": 4, "answered": 2, "pending": 1, "hidden": 1, "askers": 3}
    assert stats["forms"]["submissions"] == 2 and stats["forms"]["respondents"] == 2
    assert [(f["title"], f["submissions"]) for f in stats["forms"]["forms"]] == [("Leads", 2), ("Unused", 0)]
    giveaways = stats["giveaways"]
    assert (giveaways["draws"], giveaways["drawn"], giveaways["winners"]) == (2, 1, 2)
    assert [(d["title"], d["winners"]) for d in giveaways["items"]] == [("Mug", 2), ("Later", 0)]
    files = stats["files"]
    assert (files["files"], files["downloads"], files["downloaders"]) == (1, 3, 2)
    assert files["items"][0]["downloaders"] == 2
    registrants = stats["registrants"]
    assert {k: v for k, v in registrants.items() if k != "timeline"} == {
        "total": 5,
        "viewed": 3,
        "attended": 1,
        "no_shows": 2,
        "via_campaign_links": 0,
    }
    # 1 May 03:00 UTC is 12:00 in Seoul; registrants came on three days (2, 2, 1).
    assert registrants["timeline"] == [
        {"day": "2024-05-01", "registrations": 2},
        {"day": "2024-05-02", "registrations": 2},
        {"day": "2024-05-03", "registrations": 1},
    ]
    assert stats["survey"]["entries"] == 3 and stats["survey"]["campaigns"][0]["entries"] == 3

    expected_buckets = brute_force.access_logs(sessions)
    access = stats["access"]
    assert access["live_now"] == 1  # users[0]'s last ping is older than the presence timeout
    assert [(b["concurrent_viewers"], b["unique_viewers"]) for b in access["series"]] == [
        expected_buckets[b] for b in sorted(expected_buckets)
    ]
    peak = max(c for c, _ in expected_buckets.values())
    assert access["peak_concurrent"] == peak == 3  # users[0] (two tabs, counted once), [1] and [5]
    first_peak = min(b for b, (c, _) in expected_buckets.items() if c == peak)
    assert datetime.fromisoformat(access["peak_at"]) == first_peak

    expected = brute_force.attendance(sessions)
    watch = sorted(v[2] for v in expected.values())
    s = stats["sessions"]
    assert s["sessions"] == 6 and s["unique_viewers"] == 4
    assert s["total_watch_seconds"] == sum(watch) == 50 * 60 + 20 * 60 + 180 + 60
    assert s["average_watch_seconds"] == pytest.approx(sum(watch) / 4, abs=0.05)
    assert s["median_watch_seconds"] == (watch[1] + watch[2]) / 2
    assert (s["rejoins"], s["viewers_who_rejoined"]) == (1, 1)


def test_sections_select_what_is_returned(client, busy_webinar):
    tenant, _ = busy_webinar
    response = _stats(client, tenant, "?sections=qa,%20access")
    assert response.status_code == 200
    assert set(response.json) == {"webinar_id", "qa", "access"}
    assert set(_stats(client, tenant, "?sections=").json) == {"webinar_id", *SECTIONS}


def test_an_unknown_section_is_a_400(client, busy_webinar):
    tenant, _ = busy_webinar
    response = _stats(client, tenant, "?sections=chat,polls")
    assert response.status_code == 400
    assert "polls" in response.json["message"]


def test_sections_outside_the_documented_pattern_are_a_400(client, busy_webinar):
    """The OpenAPI pattern of `sections` is what the endpoint takes (the API fuzzer holds it to that)."""
    tenant, _ = busy_webinar
    for query in ("chat%09", "chat%0A", "qa;access", "chat,qa%0D"):
        assert _stats(client, tenant, f"?sections={query}").status_code == 400, query
    assert set(_stats(client, tenant, "?sections=%20chat%20,,").json) == {"webinar_id", "chat"}
    assert set(_stats(client, tenant, "?sections=,").json) == {"webinar_id", *SECTIONS}


def test_an_empty_webinar_has_zeros_not_errors(client, make_tenant):
    tenant = make_tenant()
    stats = _stats(client, tenant).json
    assert stats["access"] == {
        "live_now": 0,
        "peak_concurrent": 0,
        "peak_at": None,
        "bucket_seconds": 300,
        "series": [],
        "rolled_up_at": None,
    }
    assert stats["sessions"]["unique_viewers"] == 0 and stats["sessions"]["median_watch_seconds"] == 0
    assert stats["registrants"]["total"] == 0 and stats["registrants"]["timeline"] == []


def test_who_may_see_the_dashboard(client, busy_webinar, make_tenant, owner, make_token):
    tenant, _ = busy_webinar
    url = f"/api/webinars/{tenant.webinar_id}/stats"
    _, participant = tenant.participant()
    assert client.get(url, headers=participant).status_code == 403
    assert client.get(url, headers=tenant.agency_admin()).status_code == 200
    other = make_tenant()
    assert client.get(url, headers=other.client_admin()).status_code == 404
    assert client.get(url, headers=other.agency_admin()).status_code == 404
    # A sibling client of the same agency: its admin sees nothing of this webinar.
    sibling = owner.execute(
        "insert into clients (agency_id, name) values (%s, 'Sibling') returning id", (tenant.agency_id,)
    ).fetchone()["id"]
    from tests.conftest import bearer

    sibling_admin = bearer(make_token("client_admin", client_id=str(sibling)))
    assert client.get(url, headers=sibling_admin).status_code == 404
    assert client.get(url).status_code == 401
    assert client.get(f"/api/webinars/{uuid.uuid4()}/stats", headers=tenant.client_admin()).status_code == 404


@pytest.mark.parametrize("path", ["stats?sections=nope%09", "attendance?format=xlsx", "stats?sections=chat"])
def test_a_participant_gets_403_whatever_the_query(client, make_tenant, path):
    # The role is refused before the query is read: a 422 would tell a participant how to ask.
    tenant = make_tenant()
    response = client.get(f"/api/webinars/{tenant.webinar_id}/{path}", headers=tenant.participant()[1])
    assert response.status_code == 403 and response.is_json
    assert client.get(f"/api/webinars/{tenant.webinar_id}/{path}", headers=tenant.client_admin()).status_code != 403


def test_agency_admin_lists_only_its_clients_webinars_with_status(client, make_tenant):
    mine, theirs = make_tenant(webinars=2, status="ended"), make_tenant()
    listed = client.get("/api/webinars", headers=mine.agency_admin()).json
    assert {row["id"] for row in listed} == {str(w) for w in mine.webinar_ids}
    assert {row["status"] for row in listed} == {"ended"}
    assert str(theirs.webinar_id) not in {row["id"] for row in listed}
