"""The participant hot path: register, access/track, presence/ping, access/exit."""

import time
import uuid
from collections import Counter

import pytest

from eventflow import limits, tenancy
from tests import failing_commit
from tests.conftest import checkouts


def url(tenant, path):
    return f"/api/webinars/{tenant.webinar_id}/{path}"


@pytest.fixture
def tenant(make_tenant):
    return make_tenant()


def test_register_once_then_harmless_repeats(client, owner, tenant):
    user_id, headers = tenant.participant(name="Kim Minji")
    first = client.post(url(tenant, "register"), headers=headers)
    assert first.status_code == 201 and first.json == {"registered": True, "created": True}
    again = client.post(url(tenant, "register"), headers=headers, json={})
    assert again.status_code == 200 and again.json == {"registered": True, "created": False}
    rows = owner.execute(
        "select display_name from registrations where webinar_id = %s and user_id = %s", (tenant.webinar_id, user_id)
    ).fetchall()
    assert rows == [{"display_name": "Kim Minji"}]


def test_register_with_campaign_link(client, owner, tenant, make_tenant):
    link = owner.execute(
        """insert into campaign_link_meta (client_id, agency_id, campaign_id, target_webinar_id)
           values (%s, %s, gen_random_uuid(), %s) returning id""",
        (tenant.client_id, tenant.agency_id, tenant.webinar_id),
    ).fetchone()["id"]
    other = make_tenant()
    foreign_link = owner.execute(
        """insert into campaign_link_meta (client_id, agency_id, campaign_id, target_webinar_id)
           values (%s, %s, gen_random_uuid(), %s) returning id""",
        (other.client_id, other.agency_id, other.webinar_id),
    ).fetchone()["id"]
    user_id, headers = tenant.participant()
    refused = client.post(url(tenant, "register"), headers=headers, json={"campaign_link_id": str(foreign_link)})
    assert refused.status_code == 422 and refused.is_json
    assert (
        client.post(url(tenant, "register"), headers=headers, json={"campaign_link_id": str(link)}).status_code == 201
    )
    stored = owner.execute(
        "select campaign_link_id from registrations where webinar_id = %s and user_id = %s",
        (tenant.webinar_id, user_id),
    ).fetchone()
    assert stored["campaign_link_id"] == link


def test_track_opens_then_refreshes_a_session(client, owner, tenant):
    user_id, headers = tenant.participant()
    opened = client.post(url(tenant, "access/track"), headers=headers, json={"user_agent": "Firefox"})
    assert opened.status_code == 201
    assert opened.json["opened"] is True and opened.json["registered"] is True
    session_id = opened.json["session_id"]
    refreshed = client.post(url(tenant, "access/track"), headers=headers, json={"session_id": session_id})
    assert refreshed.status_code == 200
    assert refreshed.json == {"session_id": session_id, "opened": False, "registered": False}
    sessions = owner.execute(
        "select session_id, user_agent, exited_at from webinar_user_sessions where webinar_id = %s and user_id = %s",
        (tenant.webinar_id, user_id),
    ).fetchall()
    assert sessions == [{"session_id": uuid.UUID(session_id), "user_agent": "Firefox", "exited_at": None}]
    presence = owner.execute(
        "select session_id from webinar_live_presence where webinar_id = %s and user_id = %s",
        (tenant.webinar_id, user_id),
    ).fetchone()
    assert presence["session_id"] == uuid.UUID(session_id)


def test_track_with_an_unknown_or_closed_session_opens_a_new_one(client, tenant):
    _, headers = tenant.participant()
    unknown = client.post(url(tenant, "access/track"), headers=headers, json={"session_id": str(uuid.uuid4())})
    assert unknown.status_code == 201
    session_id = unknown.json["session_id"]
    client.post(url(tenant, "access/exit"), headers=headers, json={"session_id": session_id})
    after_exit = client.post(url(tenant, "access/track"), headers=headers, json={"session_id": session_id})
    assert after_exit.status_code == 201 and after_exit.json["session_id"] != session_id


def test_track_cannot_refresh_another_viewers_session(client, owner, tenant):
    _, alice = tenant.participant()
    _, bob = tenant.participant()
    alice_session = client.post(url(tenant, "access/track"), headers=alice).json["session_id"]
    stolen = client.post(url(tenant, "access/track"), headers=bob, json={"session_id": alice_session})
    assert stolen.status_code == 201 and stolen.json["session_id"] != alice_session


def test_ping_heartbeats_the_session_and_marks_live(client, owner, tenant):
    user_id, headers = tenant.participant()
    session_id = client.post(url(tenant, "access/track"), headers=headers).json["session_id"]
    owner.execute(
        "update webinar_user_sessions set last_heartbeat_at = now() - interval '100 seconds' where session_id = %s",
        (session_id,),
    )
    owner.execute(
        """update webinar_live_presence set last_seen_at = now() - interval '100 seconds'
           where webinar_id = %s and user_id = %s""",
        (tenant.webinar_id, user_id),
    )
    response = client.post(url(tenant, "presence/ping"), headers=headers, json={"session_id": session_id})
    assert response.status_code == 200 and response.json == {"live": True, "session_refreshed": True}
    ages = owner.execute(
        """select now() - s.last_heartbeat_at < interval '5 seconds' as session_fresh,
                  now() - p.last_seen_at < interval '5 seconds' as presence_fresh
           from webinar_user_sessions s join webinar_live_presence p using (webinar_id, user_id)
           where s.session_id = %s""",
        (session_id,),
    ).fetchone()
    assert ages == {"session_fresh": True, "presence_fresh": True}


def test_ping_from_a_viewer_who_never_tracked_marks_them_live_without_a_session(client, owner, tenant):
    user_id, headers = tenant.participant()
    response = client.post(url(tenant, "presence/ping"), headers=headers)
    assert response.status_code == 200 and response.json == {"live": True, "session_refreshed": False}
    assert (
        owner.execute(
            "select count(*) as n from webinar_live_presence where webinar_id = %s and user_id = %s",
            (tenant.webinar_id, user_id),
        ).fetchone()["n"]
        == 1
    )
    assert (
        owner.execute(
            "select count(*) as n from webinar_user_sessions where webinar_id = %s and user_id = %s",
            (tenant.webinar_id, user_id),
        ).fetchone()["n"]
        == 0
    )
    with_unknown = client.post(url(tenant, "presence/ping"), headers=headers, json={"session_id": str(uuid.uuid4())})
    assert with_unknown.json == {"live": True, "session_refreshed": False}


def test_exit_closes_the_session_and_leaves_the_live_list_repeatably(client, owner, tenant):
    user_id, headers = tenant.participant()
    session_id = client.post(url(tenant, "access/track"), headers=headers).json["session_id"]
    first = client.post(url(tenant, "access/exit"), headers=headers, json={"session_id": session_id})
    assert first.status_code == 200 and first.json == {"sessions_closed": 1, "left_live": True}
    again = client.post(url(tenant, "access/exit"), headers=headers, json={"session_id": session_id})
    assert again.status_code == 200 and again.json == {"sessions_closed": 0, "left_live": False}
    row = owner.execute(
        "select exited_at is not null as closed from webinar_user_sessions where session_id = %s", (session_id,)
    ).fetchone()
    assert row == {"closed": True}


def test_exit_of_an_old_device_keeps_the_newer_one_live(client, owner, tenant):
    user_id, headers = tenant.participant()
    old = client.post(url(tenant, "access/track"), headers=headers).json["session_id"]
    new = client.post(url(tenant, "access/track"), headers=headers).json["session_id"]
    assert client.post(url(tenant, "access/exit"), headers=headers, json={"session_id": old}).json == {
        "sessions_closed": 1,
        "left_live": False,
    }
    presence = owner.execute(
        "select session_id from webinar_live_presence where webinar_id = %s and user_id = %s",
        (tenant.webinar_id, user_id),
    ).fetchone()
    assert presence["session_id"] == uuid.UUID(new)


@pytest.mark.parametrize("path", ["register", "access/track", "presence/ping", "access/exit"])
def test_admins_may_not_use_participant_writes(client, tenant, path):
    assert client.post(url(tenant, path), headers=tenant.client_admin()).status_code == 403
    assert client.post(url(tenant, path), headers=tenant.agency_admin()).status_code == 403


@pytest.mark.parametrize("path", ["register", "access/track", "presence/ping", "access/exit", "stats/access"])
def test_another_tenants_admin_and_unknown_webinars_are_404(client, tenant, make_tenant, path):
    other = make_tenant()
    method = client.get if path == "stats/access" else client.post
    if path == "stats/access":
        assert method(url(tenant, path), headers=other.client_admin()).status_code == 404
        assert method(url(tenant, path), headers=other.agency_admin()).status_code == 404
    _, headers = tenant.participant()
    missing = method(f"/api/webinars/{uuid.uuid4()}/{path}", headers=headers)
    assert missing.status_code == 404 and missing.is_json


@pytest.mark.parametrize(
    "path, body",
    [
        ("access/track", {"session_id": "not-a-uuid"}),
        ("access/track", {"user_agent": "x" * 501}),
        ("access/track", {"user_agent": 42}),
        # found by tests/test_fuzz_api.py: NUL and a lone surrogate were 500s (PostgreSQL stores neither)
        ("access/track", {"user_agent": "Mozilla\u0000"}),
        ("access/track", {"user_agent": "Mozilla\ud800"}),
        ("access/track", {"user_agent": "Mozilla\n"}),
        ("presence/ping", {"session_id": 12}),
        ("access/exit", {"session_id": ["a"]}),
        ("register", {"campaign_link_id": "nope"}),
        ("register", {"unexpected": True}),
        ("presence/ping", [1, 2]),
    ],
)
def test_bad_bodies_are_422_json_and_store_nothing(client, owner, tenant, path, body):
    user_id, headers = tenant.participant()
    response = client.post(url(tenant, path), headers=headers, json=body)
    assert response.status_code == 422 and response.is_json
    assert "errors" in response.json
    stored = owner.execute(
        """select (select count(*) from registrations where webinar_id = %(w)s)
                + (select count(*) from webinar_user_sessions where webinar_id = %(w)s)
                + (select count(*) from webinar_live_presence where webinar_id = %(w)s) as n""",
        {"w": tenant.webinar_id},
    ).fetchone()["n"]
    assert stored == 0


def test_malformed_json_is_400_json(client, tenant):
    _, headers = tenant.participant()
    response = client.post(
        url(tenant, "presence/ping"), headers={**headers, "Content-Type": "application/json"}, data="{nope"
    )
    assert response.status_code == 400 and response.is_json


def test_oversize_body_is_413_json(client, tenant):
    _, headers = tenant.participant()
    response = client.post(url(tenant, "access/track"), headers=headers, json={"user_agent": "x" * 100_000})
    assert response.status_code == 413 and response.is_json


def test_a_looping_client_is_rate_limited_with_retry_after(client, tenant):
    _, headers = tenant.participant()
    statuses = [client.post(url(tenant, "presence/ping"), headers=headers).status_code for _ in range(12)]
    assert statuses[:10] == [200] * 10
    assert statuses[10:] == [429, 429]
    limited = client.post(url(tenant, "presence/ping"), headers=headers)
    assert limited.is_json and limited.json["code"] == 429
    assert int(limited.headers["Retry-After"]) > 0
    _, someone_else = tenant.participant()
    assert client.post(url(tenant, "presence/ping"), headers=someone_else).status_code == 200


def test_unauthenticated_requests_do_not_knock_the_limiter_off_redis(make_app, tenant):
    # An app of its own: flask-limiter's one Limiter counts through the Redis of the app that
    # was set up last, and another test may have set one up without Redis.
    app = make_app()
    client = app.test_client()
    for _ in range(3):
        assert client.post(url(tenant, "presence/ping")).status_code == 401
    user_id, headers = tenant.participant()
    assert client.post(url(tenant, "presence/ping"), headers=headers).status_code == 200
    deadline = time.monotonic() + 1.0  # the counters are shared every 0.1 s
    while not (counters := app.extensions["eventflow.redis"].keys(f"*ef:limit/{user_id}:*")):
        assert time.monotonic() < deadline, "the limit was not shared through Redis"
        time.sleep(0.05)
    assert len(counters) == 1


def test_a_session_whose_commit_fails_is_a_503_and_never_the_newest(make_app, owner, make_tenant):
    app = make_app(snapshot_max_age_seconds=0.1)
    client = app.test_client()
    tenant = make_tenant()
    user_id, headers = tenant.participant()
    laptop = client.post(url(tenant, "access/track"), headers=headers).json["session_id"]
    with failing_commit.refused_at_commit(owner, "webinar_user_sessions", "new.user_agent = 'phone'"):
        phone = client.post(url(tenant, "access/track"), headers=headers, json={"user_agent": "phone"})
    assert phone.status_code == 503 and phone.is_json
    stored = owner.execute(
        "select session_id from webinar_user_sessions where webinar_id = %s and user_id = %s",
        (tenant.webinar_id, user_id),
    ).fetchall()
    assert stored == [{"session_id": uuid.UUID(laptop)}], "the failed commit left a session behind"
    time.sleep(0.15)  # past the snapshot's maximum age
    poll = client.get(url(tenant, f"stats/access?session_id={laptop}"), headers=headers)
    assert poll.json["superseded"] is False, "a session that was never committed superseded the laptop"


@pytest.mark.parametrize("path, body", [("access/track", {"user_agent": 42}), ("presence/ping", {"session_id": 1})])
def test_a_role_that_may_not_use_the_endpoint_gets_403_whatever_its_body(client, tenant, path, body):
    response = client.post(url(tenant, path), headers=tenant.client_admin(), json=body)
    assert response.status_code == 403 and response.is_json


def test_the_local_webinar_cache_is_bounded_and_keeps_no_misses(app, make_tenant, monkeypatch):
    tenants = [make_tenant() for _ in range(3)]
    cache = tenancy.LocalWebinars(max_entries=2)
    monkeypatch.setitem(app.extensions, "eventflow.webinar_cache", cache)
    with app.app_context():
        for _ in range(20):
            assert tenancy.lookup_webinar(uuid.uuid4()) is None
        assert len(cache) == 0, "an unknown webinar id was kept in process memory"
        for tenant in tenants:
            assert tenancy.lookup_webinar(tenant.webinar_id).id == tenant.webinar_id
        assert len(cache) == 2
        assert cache.get(tenants[0].webinar_id) is None, "the oldest entry makes room"
        assert cache.get(tenants[2].webinar_id).id == tenants[2].webinar_id


def test_requests_are_counted_before_any_tenant_lookup(make_app, tenant):
    """Issue 11, row 7: 100 pings on random webinar ids from one token made 100 tenant lookups
    (the limit key needed one). Now the keys come from the token and the URL, the limit across
    webinars refuses the rest, and only the admitted requests reach PostgreSQL (every statement
    the app runs takes a pooled connection: the pool's checkouts count them)."""
    app = make_app()  # its own pool, its own process cache
    client = app.test_client()
    _, headers = tenant.participant()
    allowance = int(limits.across_webinars(limits.PRESENCE_PING).split()[0])
    before = checkouts(app)
    statuses = Counter(
        client.post(f"/api/webinars/{uuid.uuid4()}/presence/ping", headers=headers).status_code for _ in range(100)
    )
    assert statuses == {404: allowance, 429: 100 - allowance}
    assert checkouts(app) - before == allowance, "a refused request looked its webinar up"
    assert client.post(url(tenant, "presence/ping"), headers=headers).status_code == 429, "the limit is per caller"
    _, someone_else = tenant.participant()
    assert client.post(url(tenant, "presence/ping"), headers=someone_else).status_code == 200


def test_a_well_behaved_minute_never_meets_a_limit(client, tenant):
    # One viewer's minute in one webinar with realtime down, twice over (a second tab).
    _, headers = tenant.participant()
    session_id = client.post(url(tenant, "access/track"), headers=headers).json["session_id"]
    minute = [("get", "stats/access")] * 12 + [("get", "messages")] * 30 + [("get", "questions")] * 12
    minute += [("post", "presence/ping"), ("post", "messages"), ("post", "questions")]
    for method, path in minute * 2:
        body = {"body": "hello"} if path in ("messages", "questions") else {"session_id": session_id}
        response = getattr(client, method)(url(tenant, path), headers=headers, json=body if method == "post" else None)
        assert response.status_code in (200, 201), (path, response.status_code)
