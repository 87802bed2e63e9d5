"""The cached dashboard: one answer per webinar and sections for all its admins, rebuilt at most
once per interval across processes, with an ETag and 304; never shown to another tenant."""

import json
import time
import uuid

from prometheus_client import REGISTRY

from eventflow import db
from eventflow.auth import AGENCY_ADMIN, CLIENT_ADMIN
from eventflow.stats import cache, sections
from eventflow.stats.schemas import SECTIONS
from tests.conftest import bearer, checkouts

INTERVAL = 2.0


def _url(tenant, query=""):
    return f"/api/webinars/{tenant.webinar_id}/stats{query}"


def _rebuilds():
    return REGISTRY.get_sample_value("eventflow_snapshot_rebuilds_total", {"snapshot": cache.METRIC_NAME}) or 0


def _post(client, tenant, headers, body):
    url = f"/api/webinars/{tenant.webinar_id}/messages"
    assert client.post(url, json={"body": body}, headers=headers).status_code == 201


def test_the_webinars_admins_share_one_answer_with_an_etag(make_app, busy_webinar):
    app = make_app(stats_cache_seconds=60)
    client = app.test_client()
    tenant, _ = busy_webinar
    first = client.get(_url(tenant), headers=tenant.client_admin())
    assert first.status_code == 200 and set(first.json) == {"webinar_id", *SECTIONS}
    etag = first.headers["ETag"]
    assert etag.startswith('W/"') and first.headers["Cache-Control"] == "private, no-cache"

    before = checkouts(app)
    shared = client.get(_url(tenant), headers=tenant.agency_admin())
    assert (shared.status_code, shared.data, shared.headers["ETag"]) == (200, first.data, etag)
    unchanged = client.get(_url(tenant), headers={**tenant.client_admin(), "If-None-Match": etag})
    assert (unchanged.status_code, unchanged.data, unchanged.headers["ETag"]) == (304, b"", etag)
    assert checkouts(app) == before, "a cached dashboard took a pooled connection"

    other_sections = client.get(_url(tenant, "?sections=chat,qa"), headers=tenant.agency_admin())
    assert set(other_sections.json) == {"webinar_id", "chat", "qa"}
    assert other_sections.headers["ETag"] != etag


def test_the_answer_is_rebuilt_once_per_interval_across_processes(make_app, make_tenant):
    # An interval long enough for the requests below on a busy machine, short enough to wait out.
    first, second = (make_app(stats_cache_seconds=INTERVAL).test_client() for _ in range(2))
    tenant = make_tenant()
    admin = tenant.client_admin()
    before = first.get(_url(tenant, "?sections=chat"), headers=admin)
    _post(first, tenant, admin, "news")

    rebuilds = _rebuilds()
    for process in (first, second, first, second):
        cached = process.get(_url(tenant, "?sections=chat"), headers=admin)
        assert (cached.data, cached.headers["ETag"]) == (before.data, before.headers["ETag"])
    assert _rebuilds() == rebuilds

    time.sleep(INTERVAL + 0.1)
    answered_stale = second.get(_url(tenant, "?sections=chat"), headers=admin)
    assert answered_stale.headers["ETag"] == before.headers["ETag"], "answered at once with what was stored"
    assert _rebuilds() == rebuilds, "nothing rebuilt before that answer left"
    answered_stale.close()  # what gunicorn does once the answer is sent
    assert _rebuilds() == rebuilds + 1
    answers = [process.get(_url(tenant, "?sections=chat"), headers=admin) for process in (first, second)]
    assert _rebuilds() == rebuilds + 1
    assert {answer.headers["ETag"] for answer in answers} == {answers[0].headers["ETag"]} != {before.headers["ETag"]}
    assert answers[0].json["chat"]["messages"] == before.json["chat"]["messages"] + 1
    stale = second.get(_url(tenant, "?sections=chat"), headers={**admin, "If-None-Match": before.headers["ETag"]})
    assert stale.status_code == 200


def test_an_answer_older_than_the_stale_intervals_is_rebuilt_before_it_is_sent(make_app, make_tenant):
    client = make_app(stats_cache_seconds=0.5).test_client()
    tenant = make_tenant()
    admin = tenant.client_admin()
    before = client.get(_url(tenant, "?sections=chat"), headers=admin)
    _post(client, tenant, admin, "news")
    time.sleep(0.5 * cache.STALE_INTERVALS + 0.1)
    rebuilds = _rebuilds()
    answer = client.get(_url(tenant, "?sections=chat"), headers=admin)
    assert _rebuilds() == rebuilds + 1
    assert answer.json["chat"]["messages"] == before.json["chat"]["messages"] + 1


def test_other_tenants_admins_get_404_never_the_cached_answer(make_app, make_tenant, make_token, owner):
    client = make_app(stats_cache_seconds=60).test_client()
    tenant, stranger = make_tenant(), make_tenant()
    sibling_client = owner.execute(
        "insert into clients (agency_id, name) values (%s, 'Sibling client') returning id", (tenant.agency_id,)
    ).fetchone()["id"]
    cached = client.get(_url(tenant), headers=tenant.client_admin())
    assert cached.status_code == 200
    outsiders = {
        "a client admin of another client of the same agency": bearer(
            make_token(CLIENT_ADMIN, client_id=str(sibling_client))
        ),
        "a client admin of another agency": stranger.client_admin(),
        "another agency's admin": stranger.agency_admin(),
    }
    for who, headers in outsiders.items():
        for extra in ({}, {"If-None-Match": cached.headers["ETag"]}):
            response = client.get(_url(tenant), headers={**headers, **extra})
            assert response.status_code == 404, who
            assert response.json["message"] == "webinar not found" and "ETag" not in response.headers, who
    _, participant = tenant.participant()
    assert client.get(_url(tenant), headers=participant).status_code == 403


def test_client_and_agency_admins_see_the_same_dashboard_under_the_policies(app, busy_webinar):
    """Why one cached answer may serve both kinds of admin: built from PostgreSQL under each
    one's own context, without the cache, the two answers are the same bytes."""
    tenant, _ = busy_webinar
    contexts = [
        db.RequestContext(user_id=uuid.uuid4(), role=CLIENT_ADMIN, client_id=tenant.client_id),
        db.RequestContext(user_id=uuid.uuid4(), role=AGENCY_ADMIN, agency_id=tenant.agency_id),
    ]
    documents = []
    with app.app_context():
        settings = app.extensions["eventflow.settings"]
        for context in contexts:
            with db.transaction(db.get_pool(), context) as conn:
                stats = {name: sections.READERS[name](conn, tenant.webinar_id, settings) for name in SECTIONS}
            documents.append(cache.as_document({"webinar_id": tenant.webinar_id, **stats}))
    assert documents[0] == documents[1]
    assert json.loads(documents[0][0])["chat"]["messages"] == 7, "no figures read: an empty comparison"
