"""The stats/access fast lane: a participant's repeated poll answered from process memory, with
exactly the answer, headers, rate limit and metrics of the Flask view it stands in front of."""

import time

import pytest
from prometheus_client import REGISTRY

from eventflow import fastlane, shared_documents
from eventflow.access import lane
from tests.conftest import checkouts
from tests.lanes import redis_commands


def url(tenant, query=""):
    return f"/api/webinars/{tenant.webinar_id}/stats/access{query}"


RULE = "/api/webinars/<uuid:webinar_id>/stats/access"


def answered_in_fast_lane():
    return REGISTRY.get_sample_value("eventflow_fast_lane_requests_total", {"endpoint": RULE}) or 0


def enter(client, tenant, name="Viewer"):
    user_id, headers = tenant.participant(name=name)
    session_id = client.post(f"/api/webinars/{tenant.webinar_id}/access/track", headers=headers).json["session_id"]
    return user_id, headers, session_id


def comparable(response):
    headers = dict(response.headers)
    assert headers.pop("X-Request-Id")
    return response.status_code, headers, response.data


def test_a_repeated_poll_gets_the_views_answer_from_memory(client, make_tenant):
    tenant = make_tenant()
    enter(client, tenant, "Earlier")
    _, headers, session_id = enter(client, tenant, "Viewer")
    query = f"?session_id={session_id}"
    before = answered_in_fast_lane()
    by_flask = client.get(url(tenant, query), headers=headers)
    by_fast_lane = client.get(url(tenant, query), headers=headers)
    assert answered_in_fast_lane() == before + 1, "the second poll should not have needed Flask"
    assert comparable(by_fast_lane) == comparable(by_flask)
    assert by_fast_lane.json["viewers"][0]["me"] is True and by_fast_lane.json["superseded"] is False

    conditional = {**headers, "If-None-Match": by_flask.headers["ETag"]}
    not_modified = client.get(url(tenant, query), headers=conditional)
    assert answered_in_fast_lane() == before + 2
    assert not_modified.status_code == 304 and not_modified.data == b""
    assert not_modified.headers["ETag"] == by_flask.headers["ETag"]
    assert not_modified.headers["X-Content-Type-Options"] == "nosniff"


def test_the_fast_lane_takes_no_connection_and_no_redis_call(app, client, make_tenant, monkeypatch):
    tenant = make_tenant()
    _, headers, _ = enter(client, tenant)
    client.get(url(tenant), headers=headers)
    sent = redis_commands(monkeypatch)
    pool_before, before = checkouts(app), answered_in_fast_lane()
    for _ in range(50):
        assert client.get(url(tenant), headers=headers).status_code == 200
    fast = answered_in_fast_lane() - before
    assert fast >= 40, f"only {fast} of 50 polls were answered from memory"
    assert checkouts(app) == pool_before
    # The snapshot is re-confirmed every 0.2 s and the limit counters are shared every 0.1 s,
    # however long the 50 polls take on a busy machine: a few calls, never one per poll.
    assert len(sent) < 25, f"{len(sent)} Redis commands for 50 polls"


@pytest.mark.parametrize(
    "query, status",
    [
        ("?session_id=00000000-0000-4000-8000-00000000000A", 200),  # not as str(UUID) writes it
        ("?session_id=00000000-0000-4000-8000-000000000000&x=1", 200),
        ("?session_id=nope", 422),
        ("?limit=5", 200),
    ],
)
def test_any_other_query_goes_to_the_view(client, make_tenant, query, status):
    tenant = make_tenant()
    _, headers, _ = enter(client, tenant)
    client.get(url(tenant), headers=headers)
    before = answered_in_fast_lane()
    assert client.get(url(tenant, query), headers=headers).status_code == status
    assert answered_in_fast_lane() == before
    assert client.get(url(tenant), headers=headers).status_code == 200
    assert answered_in_fast_lane() == before + 1, "the plain poll beside it was not answered from memory"


def test_admins_and_invalid_tokens_go_to_the_view(client, make_tenant):
    tenant = make_tenant()
    _, headers, _ = enter(client, tenant)
    client.get(url(tenant), headers=headers)
    admin = tenant.client_admin()
    client.get(url(tenant), headers=admin)
    before = answered_in_fast_lane()
    assert client.get(url(tenant), headers=admin).status_code == 200
    forged = {"Authorization": headers["Authorization"][:-2] + "xx"}
    assert client.get(url(tenant), headers=forged).status_code == 401
    assert client.get(url(tenant)).status_code == 401
    assert answered_in_fast_lane() == before


def test_a_token_seen_for_the_first_time_is_verified_in_the_fast_lane(client, make_tenant):
    tenant = make_tenant()
    _, headers, _ = enter(client, tenant)
    client.get(url(tenant), headers=headers)  # the webinar and its snapshot are now in memory
    _, newcomer = tenant.participant(name="Newcomer")
    before = answered_in_fast_lane()
    assert client.get(url(tenant), headers=newcomer).status_code == 200
    assert answered_in_fast_lane() == before + 1


def test_an_expired_token_is_refused_even_after_it_was_verified(client, make_tenant, make_token, monkeypatch):
    monkeypatch.setattr(shared_documents, "LOCAL_CHECK_SECONDS", 60.0)  # the snapshot stays in memory throughout
    tenant = make_tenant()
    token = make_token("participant", name="Short-lived", ttl=2)
    headers = {"Authorization": f"Bearer {token}"}
    assert client.get(url(tenant), headers=headers).status_code == 200
    before = answered_in_fast_lane()
    assert client.get(url(tenant), headers=headers).status_code == 200
    assert answered_in_fast_lane() == before + 1
    time.sleep(2.1)
    assert client.get(url(tenant), headers=headers).status_code == 401
    assert answered_in_fast_lane() == before + 1


def test_another_tenants_admin_still_gets_404(client, make_tenant):
    tenant, other = make_tenant(), make_tenant()
    _, headers, _ = enter(client, tenant)
    client.get(url(tenant), headers=headers)
    assert client.get(url(tenant), headers=other.client_admin()).status_code == 404


def test_both_lanes_count_against_one_limit(client, make_tenant):
    tenant = make_tenant()
    _, headers, _ = enter(client, tenant)
    before = answered_in_fast_lane()
    statuses = [client.get(url(tenant), headers=headers).status_code for _ in range(61)]
    assert answered_in_fast_lane() > before, "no poll went through the fast lane"
    assert statuses[:60] == [200] * 60
    assert statuses[60] == 429
    limited = client.get(url(tenant), headers=headers)
    assert limited.status_code == 429 and limited.is_json and int(limited.headers["Retry-After"]) > 0


def test_a_stale_snapshot_goes_to_the_view_which_refreshes_it(client, make_tenant):
    tenant = make_tenant()
    _, headers, _ = enter(client, tenant)
    first = client.get(url(tenant), headers=headers).json
    enter(client, tenant, "Newcomer")
    time.sleep(1.05)  # past the snapshot's maximum age, and its last confirmation in this process
    before = answered_in_fast_lane()
    refreshed = client.get(url(tenant), headers=headers).json
    assert answered_in_fast_lane() == before
    again = client.get(url(tenant), headers=headers).json
    assert answered_in_fast_lane() == before + 1, "the refreshed snapshot was not used from memory"
    assert (first["live_count"], refreshed["live_count"], again["live_count"]) == (1, 2, 2)


def test_the_fast_lane_serves_only_its_own_route(app):
    (bound,) = fastlane.FastLane(app, app.wsgi_app, [lane.StatsAccess(app)]).routes
    assert bound.rule == RULE
    assert lane.StatsAccess.path.fullmatch(f"/api/webinars/{'0' * 8}-0000-4000-8000-{'0' * 12}/stats/access")
    assert not lane.StatsAccess.path.fullmatch(f"/api/webinars/{'0' * 8}-0000-4000-8000-{'0' * 12}/stats/access/x")


def test_a_failing_fast_lane_leaves_the_answer_to_the_view(client, make_tenant, monkeypatch):
    tenant = make_tenant()
    _, headers, _ = enter(client, tenant)
    client.get(url(tenant), headers=headers)

    def broken(header):
        raise RuntimeError("a bug in the fast lane")

    monkeypatch.setattr(lane, "parse_etags", broken)
    before = answered_in_fast_lane()
    response = client.get(url(tenant), headers=headers)
    assert response.status_code == 200 and response.json["live_count"] == 1
    assert answered_in_fast_lane() == before
