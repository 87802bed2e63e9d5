"""Issue 11, row 3: the webinar access rules (contract §5, "Webinar states").

Participants cannot see or touch a draft or cancelled webinar (404, as if it did not exist); an
ended webinar can still be read but takes no participant writes other than access/exit (409);
participants are never told a webinar's client_id or agency_id; a participant token with a
`webinar_id` claim enters only that webinar; one token cannot multiply its allowance over many
webinars."""

import uuid
from collections import Counter
from dataclasses import replace

import psycopg
import pytest

from eventflow import auth, db, limits
from tests.conftest import bearer

# Every participant endpoint, as (method, path, body); the writes first.
WRITES = [
    ("post", "register", {}),
    ("post", "access/track", {}),
    ("post", "presence/ping", {}),
    ("post", "messages", {"body": "hello"}),
    ("post", "questions", {"body": "why?"}),
]
READS = [
    ("get", "", None),
    ("get", "stats/access", None),
    ("get", "messages", None),
    ("get", "questions", None),
]
EXIT = ("post", "access/exit", {})


def call(client, webinar_id, headers, request):
    method, path, body = request
    return getattr(client, method)(f"/api/webinars/{webinar_id}/{path}".rstrip("/"), headers=headers, json=body)


def rows_of(owner, webinar_id):
    """Every row the participant endpoints write, counted, for one webinar."""
    return owner.execute(
        """select (select count(*) from registrations where webinar_id = %(w)s)
                + (select count(*) from webinar_user_sessions where webinar_id = %(w)s)
                + (select count(*) from webinar_live_presence where webinar_id = %(w)s)
                + (select count(*) from messages where webinar_id = %(w)s)
                + (select count(*) from questions where webinar_id = %(w)s) as n""",
        {"w": webinar_id},
    ).fetchone()["n"]


@pytest.mark.parametrize("status", ["draft", "cancelled"])
def test_a_webinar_not_announced_does_not_exist_for_participants(client, owner, make_tenant, status):
    tenant = make_tenant(status=status)
    _, viewer = tenant.participant()
    for request in [*WRITES, *READS, EXIT]:
        response = call(client, tenant.webinar_id, viewer, request)
        assert response.status_code == 404 and response.is_json, (request, response.status_code)
        assert response.json["message"] == "webinar not found", "not to be told apart from a missing one"
    assert rows_of(owner, tenant.webinar_id) == 0
    # Its admins still work on it.
    admin = call(client, tenant.webinar_id, tenant.client_admin(), ("get", "", None))
    assert admin.status_code == 200 and admin.json["status"] == status


def test_an_ended_webinar_is_read_only_to_participants_but_for_exit(client, owner, make_tenant, make_app):
    tenant = make_tenant()
    _, viewer = tenant.participant()
    session_id = call(client, tenant.webinar_id, viewer, ("post", "access/track", {})).json["session_id"]
    question = call(client, tenant.webinar_id, viewer, ("post", "questions", {"body": "before the end?"})).json
    owner.execute("update webinars set status = 'ended' where id = %s", (tenant.webinar_id,))
    client = after_the_caches_let_go(client, make_app, tenant.webinar_id)
    before = rows_of(owner, tenant.webinar_id)

    for request in WRITES:
        response = call(client, tenant.webinar_id, viewer, request)
        assert response.status_code == 409 and response.is_json, (request, response.status_code)
        assert "ended" in response.json["message"]
    for method in ("post", "delete"):
        upvote = call(client, tenant.webinar_id, viewer, (method, f"questions/{question['id']}/upvote", None))
        assert upvote.status_code == 409, method
    assert rows_of(owner, tenant.webinar_id) == before, "a refused write stored something"

    for request in READS:
        assert call(client, tenant.webinar_id, viewer, request).status_code == 200, request
    exit_ = call(client, tenant.webinar_id, viewer, ("post", "access/exit", {"session_id": session_id}))
    assert exit_.status_code == 200 and exit_.json["sessions_closed"] == 1
    # Admins still moderate the replay's Q&A.
    hidden = client.patch(
        f"/api/webinars/{tenant.webinar_id}/questions/{question['id']}",
        json={"hidden": True},
        headers=tenant.client_admin(),
    )
    assert hidden.status_code == 200


def after_the_caches_let_go(client, make_app, webinar_id):
    """A client of a process that has not cached the webinar, with its Redis entry gone: what
    every process sees of a status change within EVENTFLOW_WEBINAR_CACHE_SECONDS + 5 s."""
    client.application.extensions["eventflow.redis"].delete(f"ef:webinar:{webinar_id}")
    return make_app().test_client()


def test_participants_are_not_told_whose_webinar_it_is(client, make_tenant):
    tenant = make_tenant()
    _, viewer = tenant.participant()
    seen = call(client, tenant.webinar_id, viewer, ("get", "", None))
    assert seen.status_code == 200
    assert "client_id" not in seen.json and "agency_id" not in seen.json
    for request in READS[1:]:
        text = call(client, tenant.webinar_id, viewer, request).get_data(as_text=True)
        assert str(tenant.client_id) not in text and str(tenant.agency_id) not in text, request
    admin = call(client, tenant.webinar_id, tenant.agency_admin(), ("get", "", None)).json
    assert admin["client_id"] == str(tenant.client_id) and admin["agency_id"] == str(tenant.agency_id)


def test_the_policies_hide_a_draft_webinar_from_participants_too(run_as, owner, make_tenant):
    # Defence in depth: even with a participant context set for it, the row is not visible.
    tenant = make_tenant(status="draft")
    context = db.RequestContext(
        user_id=uuid.uuid4(),
        role=auth.PARTICIPANT,
        client_id=tenant.client_id,
        agency_id=tenant.agency_id,
        webinar_id=tenant.webinar_id,
    )
    assert run_as(context, "select id from webinars").rows == []
    owner.execute("update webinars set status = 'live' where id = %s", (tenant.webinar_id,))
    assert run_as(context, "select id from webinars").rows == [{"id": tenant.webinar_id}]


def test_a_token_naming_a_webinar_enters_only_that_one(client, make_tenant, make_token):
    tenant = make_tenant(webinars=2)
    mine, other = tenant.webinar_ids
    viewer = bearer(make_token(auth.PARTICIPANT, webinar_id=str(mine), name="Bound viewer"))
    assert call(client, mine, viewer, ("post", "access/track", {})).status_code == 201
    for request in [*WRITES, *READS, EXIT]:
        assert call(client, other, viewer, request).status_code == 404, request
    admin_with_claim = make_token(auth.CLIENT_ADMIN, client_id=str(tenant.client_id), webinar_id=str(mine))
    assert call(client, mine, bearer(admin_with_claim), ("get", "", None)).status_code == 401
    not_a_uuid = make_token(auth.PARTICIPANT, webinar_id="nope")
    assert call(client, mine, bearer(not_a_uuid), ("get", "", None)).status_code == 401


def test_one_token_cannot_multiply_its_allowance_over_many_webinars(client, make_tenant):
    # The red team pinged 8 webinars at 10/min each with one token.
    tenant = make_tenant(webinars=8)
    _, viewer = tenant.participant()
    statuses = Counter(
        call(client, webinar_id, viewer, ("post", "presence/ping", {})).status_code
        for webinar_id in tenant.webinar_ids
        for _ in range(10)
    )
    allowance = int(limits.across_webinars(limits.PRESENCE_PING).split()[0])
    assert statuses == {200: allowance, 429: 80 - allowance}


def test_the_fast_lane_keeps_the_same_rules(client, make_tenant, make_token):
    # Polls the fast lane would answer from memory (token verified, webinar and snapshot held)
    # if it did not ask tenancy.sees, as the Flask view does.
    tenant = make_tenant(webinars=2)
    webinar_id, other_id = tenant.webinar_ids
    _, viewer = tenant.participant()
    for each in tenant.webinar_ids:
        assert call(client, each, viewer, ("post", "access/track", {})).status_code == 201
        assert call(client, each, viewer, ("get", "stats/access", None)).status_code == 200
    bound = bearer(make_token(auth.PARTICIPANT, webinar_id=str(webinar_id)))
    assert call(client, webinar_id, bound, ("get", "stats/access", None)).status_code == 200
    assert call(client, other_id, bound, ("get", "stats/access", None)).status_code == 404

    cache = client.application.extensions["eventflow.webinar_cache"]
    cache.put(webinar_id, replace(cache.get(webinar_id), status="cancelled"))
    assert call(client, webinar_id, viewer, ("get", "stats/access", None)).status_code == 404


def test_the_policies_refuse_participant_writes_into_an_ended_webinar_but_the_exit(run_as, owner, make_tenant):
    # Defence in depth: were a view to forget writes=True, the database would still refuse.
    tenant = make_tenant()
    viewer = uuid.uuid4()
    context = db.RequestContext(
        user_id=viewer,
        role=auth.PARTICIPANT,
        client_id=tenant.client_id,
        agency_id=tenant.agency_id,
        webinar_id=tenant.webinar_id,
    )
    session_id = run_as(context, "select session_id from track_access(null, 'Viewer', '')").one["session_id"]
    owner.execute("update webinars set status = 'ended' where id = %s", (tenant.webinar_id,))
    refused = [
        "select register_participant('Viewer', null)",
        "select * from track_access(null, 'Viewer', '')",
        "select ping_presence(null, 'Viewer')",
        """insert into messages (webinar_id, client_id, agency_id, user_id, author_role, body)
           values (%(w)s, %(c)s, %(a)s, %(u)s, 'participant', 'late')""",
        """insert into questions (webinar_id, client_id, agency_id, user_id, body)
           values (%(w)s, %(c)s, %(a)s, %(u)s, 'late?')""",
    ]
    params = {"w": tenant.webinar_id, "c": tenant.client_id, "a": tenant.agency_id, "u": viewer}
    for sql in refused:
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            run_as(context, sql, params)
    closed = run_as(context, "select * from exit_access(%s)", (session_id,)).one
    assert closed == {"sessions_closed": 1, "left_live": True}


def test_a_request_refused_in_one_webinar_spends_nothing_across_webinars(client, make_tenant):
    # flask-limiter checks the per-webinar limit first and stops at the first exceeded, as the
    # fast lane's limits.admit does: looping in one webinar leaves the rest of the allowance.
    tenant = make_tenant(webinars=2)
    _, viewer = tenant.participant()
    per_webinar = int(limits.PRESENCE_PING.split()[0])
    across = int(limits.across_webinars(limits.PRESENCE_PING).split()[0])
    first = [call(client, tenant.webinar_ids[0], viewer, ("post", "presence/ping", {})).status_code for _ in range(15)]
    assert first == [200] * per_webinar + [429] * (15 - per_webinar)
    second = [call(client, tenant.webinar_ids[1], viewer, ("post", "presence/ping", {})).status_code for _ in range(11)]
    assert second == [200] * (across - per_webinar) + [429]
