"""GET /stats/access: the live list from a shared snapshot, ETag/304, duplicate login."""

import threading
import time
import uuid
from datetime import datetime

import pytest
from prometheus_client import REGISTRY

from eventflow.access import snapshot
from tests.conftest import checkouts


def url(tenant, query=""):
    return f"/api/webinars/{tenant.webinar_id}/stats/access{query}"


def rebuilds():
    """Snapshot rebuilds so far in this process, as /metrics reports them."""
    return REGISTRY.get_sample_value("eventflow_snapshot_rebuilds_total", {"snapshot": "stats_access"}) or 0


def enter(client, tenant, name):
    user_id, headers = tenant.participant(name=name)
    session_id = client.post(f"/api/webinars/{tenant.webinar_id}/access/track", headers=headers).json["session_id"]
    return user_id, headers, session_id


@pytest.fixture
def fresh_app(make_app):
    """An app whose snapshot is rebuilt at most every 0.2 s and whose viewers time out after 1 s."""
    return make_app(snapshot_max_age_seconds=0.2, presence_timeout_seconds=1)


def test_participants_get_the_count_and_themselves_first(client, make_tenant):
    tenant = make_tenant()
    viewers = [enter(client, tenant, f"Viewer {n}") for n in range(3)]
    last_user, last_headers, _ = viewers[-1]
    body = client.get(url(tenant), headers=last_headers).json
    assert body["live_count"] == 3
    assert [v["display_name"] for v in body["viewers"]] == ["Viewer 2", "Viewer 0", "Viewer 1"]
    assert body["viewers"][0] == {
        "user_id": str(last_user),
        "display_name": "Viewer 2",
        "since": body["viewers"][0]["since"],
        "me": True,
    }
    assert body["superseded"] is None


def test_participants_do_not_get_other_viewers_ids(client, make_tenant):
    # A viewer's id is their account's, the same in every tenant: only admins see others' ids.
    tenant = make_tenant()
    viewers = [enter(client, tenant, f"Viewer {n}") for n in range(3)]
    body = client.get(url(tenant), headers=viewers[1][1]).json
    assert body["viewers"][0]["user_id"] == str(viewers[1][0]) and body["viewers"][0]["me"] is True
    assert [sorted(v) for v in body["viewers"][1:]] == [["display_name", "since"]] * 2
    _, outsider = tenant.participant()  # polling without having entered: no own entry at all
    assert all(
        sorted(v) == ["display_name", "since"] for v in client.get(url(tenant), headers=outsider).json["viewers"]
    )
    admin_view = client.get(url(tenant), headers=tenant.client_admin()).json["viewers"]
    assert [v["user_id"] for v in admin_view] == [str(user_id) for user_id, _, _ in viewers]
    assert all("me" not in v for v in admin_view)


def test_participants_get_a_bounded_slice(make_app, make_tenant):
    app = make_app(participant_viewer_limit=2)
    client = app.test_client()
    tenant = make_tenant()
    viewers = [enter(client, tenant, f"Viewer {n}") for n in range(4)]
    body = client.get(url(tenant), headers=viewers[3][1]).json
    assert body["live_count"] == 4
    assert [v["display_name"] for v in body["viewers"]] == ["Viewer 3", "Viewer 0"]


def test_admins_get_every_viewer_paged(client, make_tenant):
    tenant = make_tenant()
    for n in range(5):
        enter(client, tenant, f"Viewer {n}")
    for headers in (tenant.client_admin(), tenant.agency_admin()):
        first = client.get(url(tenant, "?limit=2"), headers=headers).json
        assert first["live_count"] == 5 and first["next_offset"] == 2
        assert [v["display_name"] for v in first["viewers"]] == ["Viewer 0", "Viewer 1"]
        last = client.get(url(tenant, "?offset=4&limit=2"), headers=headers).json
        assert [v["display_name"] for v in last["viewers"]] == ["Viewer 4"] and last["next_offset"] is None


@pytest.mark.parametrize("query", ["?limit=0", "?limit=5001", "?offset=-1", "?session_id=nope", "?limit=x"])
def test_bad_query_arguments_are_422(client, make_tenant, query):
    tenant = make_tenant()
    response = client.get(url(tenant, query), headers=tenant.client_admin())
    assert response.status_code == 422 and response.is_json


def test_etag_and_304_without_the_database(client, make_tenant, pool_checkouts):
    tenant = make_tenant()
    _, headers, _ = enter(client, tenant, "Viewer")
    first = client.get(url(tenant), headers=headers)
    etag = first.headers["ETag"]
    assert etag.startswith('W/"')
    before = pool_checkouts()
    unchanged = client.get(url(tenant), headers={**headers, "If-None-Match": etag})
    assert unchanged.status_code == 304 and unchanged.data == b""
    assert pool_checkouts() == before
    enter(client, tenant, "Newcomer")
    time.sleep(1.05)  # the snapshot's maximum age
    changed = client.get(url(tenant), headers={**headers, "If-None-Match": etag})
    assert changed.status_code == 200 and changed.headers["ETag"] != etag
    assert changed.json["live_count"] == 2


def test_a_cached_request_takes_no_pooled_connection(client, make_tenant, pool_checkouts):
    tenant = make_tenant()
    _, headers, _ = enter(client, tenant, "Viewer")
    client.get(url(tenant), headers=headers)
    before = pool_checkouts()
    for _ in range(20):
        assert client.get(url(tenant), headers=headers).status_code == 200
    assert pool_checkouts() == before


def test_concurrent_polls_of_a_cold_webinar_cause_one_rebuild(make_app, make_tenant):
    # A snapshot that cannot go stale during the test, however slowly a loaded machine runs it.
    app = make_app(snapshot_max_age_seconds=60)
    tenant = make_tenant()
    client = app.test_client()
    _, headers, _ = enter(client, tenant, "Viewer")
    client.get(f"/api/webinars/{tenant.webinar_id}", headers=headers)  # the webinar's tenant is now cached
    rebuilds_before, checkouts_before = rebuilds(), checkouts(app)
    statuses, start = [], threading.Barrier(20)

    def poll():
        start.wait()
        statuses.append(app.test_client().get(url(tenant), headers=headers).status_code)

    threads = [threading.Thread(target=poll) for _ in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert statuses == [200] * 20
    assert rebuilds() - rebuilds_before == 1
    assert checkouts(app) - checkouts_before == 1


def test_without_redis_concurrent_polls_of_a_cold_webinar_cause_one_rebuild_per_process(make_app, make_tenant):
    # Redis down: each process keeps its own copy, built by one thread while the others wait for it.
    app = make_app(redis_url="redis://127.0.0.1:1/0", snapshot_max_age_seconds=60)
    tenant = make_tenant()
    client = app.test_client()
    _, headers, _ = enter(client, tenant, "Viewer")
    client.get(f"/api/webinars/{tenant.webinar_id}", headers=headers)  # the webinar's tenant is now cached
    rebuilds_before = rebuilds()
    statuses, start = [], threading.Barrier(20)

    def poll():
        start.wait()
        response = app.test_client().get(url(tenant), headers=headers)
        statuses.append((response.status_code, response.json["live_count"]))

    threads = [threading.Thread(target=poll) for _ in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert statuses == [(200, 1)] * 20
    assert rebuilds() - rebuilds_before == 1


def test_a_viewer_whose_pings_stop_drops_off_after_the_timeout(fresh_app, make_tenant):
    client = fresh_app.test_client()
    tenant = make_tenant()
    _, quiet_headers, _ = enter(client, tenant, "Goes quiet")
    _, active_headers, active_session = enter(client, tenant, "Keeps pinging")
    assert client.get(url(tenant), headers=active_headers).json["live_count"] == 2
    deadline = time.monotonic() + 1.6
    while time.monotonic() < deadline:
        client.post(
            f"/api/webinars/{tenant.webinar_id}/presence/ping",
            headers=active_headers,
            json={"session_id": active_session},
        )
        time.sleep(0.4)
    body = client.get(url(tenant), headers=active_headers).json
    assert [v["display_name"] for v in body["viewers"]] == ["Keeps pinging"]
    assert body["live_count"] == 1


def test_duplicate_login_is_told_to_the_first_device(fresh_app, make_tenant, monkeypatch):
    # Sessions are told apart as soon as a snapshot is built after both opened (same clock here).
    monkeypatch.setattr(snapshot, "SESSION_VISIBLE_SECONDS", 0.0)
    client = fresh_app.test_client()
    tenant = make_tenant()
    user_id, headers = tenant.participant(name="Same person")
    track = f"/api/webinars/{tenant.webinar_id}/access/track"
    laptop = client.post(track, headers=headers).json["session_id"]
    first_poll = client.get(url(tenant, f"?session_id={laptop}"), headers=headers)
    assert first_poll.json["superseded"] is False
    phone = client.post(track, headers=headers).json["session_id"]
    time.sleep(0.25)  # the snapshot's maximum age in this app: within one 5-second poll
    laptop_poll = client.get(
        url(tenant, f"?session_id={laptop}"), headers={**headers, "If-None-Match": first_poll.headers["ETag"]}
    )
    assert laptop_poll.status_code == 200 and laptop_poll.json["superseded"] is True
    before = checkouts(fresh_app)
    assert client.get(url(tenant, f"?session_id={phone}"), headers=headers).json["superseded"] is False
    assert client.get(url(tenant, f"?session_id={laptop}"), headers=headers).json["superseded"] is True
    assert checkouts(fresh_app) == before, "telling devices apart needs no database call"
    # the laptop's ping and 5-minute track refresh its own session but do not reclaim "newest"
    client.post(f"/api/webinars/{tenant.webinar_id}/presence/ping", headers=headers, json={"session_id": laptop})
    client.post(track, headers=headers, json={"session_id": laptop})
    time.sleep(0.25)
    assert client.get(url(tenant, f"?session_id={laptop}"), headers=headers).json["superseded"] is True
    # the phone leaves: the laptop's next ping makes it the session of record again
    client.post(f"/api/webinars/{tenant.webinar_id}/access/exit", headers=headers, json={"session_id": phone})
    client.post(f"/api/webinars/{tenant.webinar_id}/presence/ping", headers=headers, json={"session_id": laptop})
    time.sleep(0.25)
    assert client.get(url(tenant, f"?session_id={laptop}"), headers=headers).json["superseded"] is False


def test_stats_access_keeps_working_when_redis_is_down(make_app, make_tenant):
    app = make_app(redis_url="redis://127.0.0.1:1/0")
    client = app.test_client()
    tenant = make_tenant()
    _, headers = tenant.participant(name="Resilient")
    assert client.post(f"/api/webinars/{tenant.webinar_id}/access/track", headers=headers).status_code == 201
    body = client.get(url(tenant), headers=headers).json
    assert body["live_count"] == 1 and body["superseded"] is None
    assert client.post(f"/api/webinars/{tenant.webinar_id}/presence/ping", headers=headers).status_code == 200


def test_since_is_the_arrival_time_to_the_microsecond(client, make_tenant, owner):
    tenant = make_tenant()
    user_id, headers, _ = enter(client, tenant, "Viewer")
    joined_at = owner.execute(
        "select joined_at from webinar_live_presence where webinar_id = %s and user_id = %s",
        (tenant.webinar_id, user_id),
    ).fetchone()["joined_at"]
    since = client.get(url(tenant), headers=headers).json["viewers"][0]["since"]
    assert datetime.fromisoformat(since) == joined_at
    assert since.endswith("+00:00")


def test_a_device_that_just_tracked_is_not_told_it_was_superseded(make_app, make_tenant, monkeypatch):
    # The snapshot is older than the phone's session: it still names the laptop's as the newest.
    monkeypatch.setattr(snapshot, "SESSION_VISIBLE_SECONDS", 0.0)
    app = make_app(snapshot_max_age_seconds=1.0)
    client = app.test_client()
    tenant = make_tenant()
    _, headers = tenant.participant(name="Same person")
    track = f"/api/webinars/{tenant.webinar_id}/access/track"
    laptop = client.post(track, headers=headers).json["session_id"]
    assert client.get(url(tenant, f"?session_id={laptop}"), headers=headers).json["superseded"] is False
    phone = client.post(track, headers=headers).json["session_id"]
    assert uuid.UUID(phone).version == 7 and phone > laptop, "session ids are time-ordered"
    just_tracked = client.get(url(tenant, f"?session_id={phone}"), headers=headers).json
    assert just_tracked["superseded"] is None, "the snapshot predates the phone's session: it cannot tell"
    time.sleep(1.05)  # the next snapshot knows the phone's session
    assert client.get(url(tenant, f"?session_id={phone}"), headers=headers).json["superseded"] is False
    assert client.get(url(tenant, f"?session_id={laptop}"), headers=headers).json["superseded"] is True
