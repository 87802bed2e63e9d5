"""Q&A: who sees which question, moderation, upvotes, and the cursor poll by status."""

import pytest


def _url(webinar_id, suffix=""):
    return f"/api/webinars/{webinar_id}/questions{suffix}"


def _ask(client, webinar_id, headers, body, **more):
    return client.post(_url(webinar_id), json={"body": body, **more}, headers=headers)


def _moderate(client, webinar_id, headers, question_id, **change):
    return client.patch(_url(webinar_id, f"/{question_id}"), json=change, headers=headers)


def _poll(client, webinar_id, headers, **query):
    return client.get(_url(webinar_id), query_string=query, headers=headers)


def _bodies(response):
    return sorted(q["body"] for q in response.json["questions"])


@pytest.fixture
def qa(client, make_tenant):
    """A webinar where Ann asked two questions (one answered), Bob one, and Ann one privately."""
    tenant = make_tenant()
    _, ann = tenant.participant(name="Ann")
    _, bob = tenant.participant(name="Bob")
    admin = tenant.client_admin()
    ids = {
        "ann answered": _ask(client, tenant.webinar_id, ann, "ann answered").json["id"],
        "ann pending": _ask(client, tenant.webinar_id, ann, "ann pending").json["id"],
        "bob pending": _ask(client, tenant.webinar_id, bob, "bob pending").json["id"],
        "ann private": _ask(client, tenant.webinar_id, ann, "ann private", is_public=False).json["id"],
    }
    for name in ("ann answered", "ann private"):
        answered = _moderate(client, tenant.webinar_id, admin, ids[name], answer="Yes.")
        assert answered.status_code == 200 and answered.json["status"] == "answered"
    return tenant, ann, bob, admin, ids


def test_each_role_sees_what_the_qa_shows_it(client, qa):
    tenant, ann, bob, admin, _ = qa
    assert _bodies(_poll(client, tenant.webinar_id, ann)) == ["ann answered", "ann pending", "ann private"]
    assert _bodies(_poll(client, tenant.webinar_id, bob)) == ["ann answered", "bob pending"]
    for headers in (admin, tenant.agency_admin()):
        assert _bodies(_poll(client, tenant.webinar_id, headers)) == [
            "ann answered",
            "ann pending",
            "ann private",
            "bob pending",
        ]
    polled = _poll(client, tenant.webinar_id, bob)
    assert polled.headers["Poll-Interval"] == "5"
    mine = {q["body"]: q["mine"] for q in polled.json["questions"]}
    assert mine == {"ann answered": False, "bob pending": True}


def test_status_filter_and_cursor(client, qa):
    tenant, ann, _, admin, ids = qa
    answered = _poll(client, tenant.webinar_id, admin, status="answered")
    assert _bodies(answered) == ["ann answered", "ann private"]
    assert _bodies(_poll(client, tenant.webinar_id, admin, status="pending")) == ["ann pending", "bob pending"]

    # Answering a pending question moves it: the "pending" view is told it left.
    pending = _poll(client, tenant.webinar_id, admin, status="pending")
    _moderate(client, tenant.webinar_id, admin, ids["bob pending"], answer="Soon.")
    update = _poll(client, tenant.webinar_id, admin, status="pending", after=pending.json["next"]).json
    assert update["questions"] == [] and update["removed"] == [ids["bob pending"]]
    again = _poll(client, tenant.webinar_id, admin, status="answered", after=answered.json["next"])
    assert _bodies(again) == ["bob pending"]

    first = _poll(client, tenant.webinar_id, ann, limit=1)
    second = _poll(client, tenant.webinar_id, ann, limit=1, after=first.json["next"])
    assert first.json["questions"][0]["id"] != second.json["questions"][0]["id"]


def test_hide_pin_and_unhide(client, qa):
    tenant, ann, bob, admin, ids = qa
    before = _poll(client, tenant.webinar_id, bob).json["next"]
    pinned = _moderate(client, tenant.webinar_id, admin, ids["ann answered"], pinned=True)
    assert pinned.json["pinned"] is True and pinned.json["status"] == "answered"
    assert _poll(client, tenant.webinar_id, bob, after=before).json["questions"][0]["pinned"] is True

    hidden = _moderate(client, tenant.webinar_id, admin, ids["ann answered"], hidden=True)
    assert hidden.json["status"] == "hidden"
    update = _poll(client, tenant.webinar_id, bob, after=before).json
    assert update["questions"] == [] and update["removed"] == [ids["ann answered"]]
    assert _bodies(_poll(client, tenant.webinar_id, bob)) == ["bob pending"]
    own = {q["body"]: q["status"] for q in _poll(client, tenant.webinar_id, ann).json["questions"]}
    assert own["ann answered"] == "hidden", "the asker still sees their hidden question"

    shown = _moderate(client, tenant.webinar_id, admin, ids["ann answered"], hidden=False)
    assert shown.json["status"] == "answered" and shown.json["answer"] == "Yes."
    assert _bodies(_poll(client, tenant.webinar_id, bob)) == ["ann answered", "bob pending"]
    assert _moderate(client, tenant.webinar_id, admin, ids["bob pending"], hidden=False).json["status"] == "pending"


def test_roles_and_tenants(client, qa, make_tenant):
    tenant, ann, _, admin, ids = qa
    assert _ask(client, tenant.webinar_id, admin, "admins do not ask").status_code == 403
    assert _moderate(client, tenant.webinar_id, ann, ids["ann pending"], answer="self-answer").status_code == 403
    assert client.post(_url(tenant.webinar_id, f"/{ids['ann answered']}/upvote"), headers=admin).status_code == 403

    other = make_tenant()
    for headers in (other.client_admin(), other.agency_admin()):
        assert _poll(client, tenant.webinar_id, headers).status_code == 404
        response = _moderate(client, tenant.webinar_id, headers, ids["ann pending"], pinned=True)
        assert response.status_code == 404 and response.is_json
    assert _moderate(client, tenant.webinar_id, admin, 10**15, pinned=True).status_code == 404


def test_a_role_that_may_not_use_the_endpoint_gets_403_even_with_a_bad_body(client, qa):
    tenant, ann, _, admin, ids = qa
    for body in ({"body": ""}, {"body": 42}, {}):
        response = client.post(_url(tenant.webinar_id), json=body, headers=admin)
        assert response.status_code == 403 and response.is_json, body
    assert _moderate(client, tenant.webinar_id, ann, ids["ann pending"]).status_code == 403  # {}: no change given


@pytest.mark.parametrize(
    "change",
    [{}, {"answer": ""}, {"answer": "x" * 4001}, {"hidden": "maybe"}, {"pinned": None}, {"status": "answered"}],
)
def test_bad_moderation_bodies_are_422(client, qa, change):
    tenant, _, _, admin, ids = qa
    response = _moderate(client, tenant.webinar_id, admin, ids["ann pending"], **change)
    assert response.status_code == 422 and response.is_json


@pytest.mark.parametrize("body", ["", "x" * 1001, "\x00", None])
def test_bad_questions_are_422(client, make_tenant, body):
    tenant = make_tenant()
    _, viewer = tenant.participant()
    response = _ask(client, tenant.webinar_id, viewer, body)
    assert response.status_code == 422 and response.is_json


@pytest.mark.parametrize("query", [{"status": "bogus"}, {"after": "x"}, {"limit": "500"}])
def test_bad_question_polls_are_422(client, make_tenant, query):
    tenant = make_tenant()
    response = _poll(client, tenant.webinar_id, tenant.client_admin(), **query)
    assert response.status_code == 422 and response.is_json


def test_upvotes_count_once_and_reach_the_polls(client, qa):
    tenant, ann, bob, admin, ids = qa
    answered = ids["ann answered"]
    upvote = _url(tenant.webinar_id, f"/{answered}/upvote")
    cursor = _poll(client, tenant.webinar_id, bob).json["next"]

    assert client.post(upvote, headers=bob).json == {"question_id": answered, "upvotes": 1, "upvoted": True}
    assert client.post(upvote, headers=bob).json["upvotes"] == 1, "a repeat is harmless"
    assert client.post(upvote, headers=ann).json["upvotes"] == 2

    update = _poll(client, tenant.webinar_id, bob, after=cursor).json["questions"]
    assert [(q["id"], q["upvotes"], q["upvoted"]) for q in update] == [(answered, 2, True)]

    assert client.delete(upvote, headers=bob).json == {"question_id": answered, "upvotes": 1, "upvoted": False}
    assert client.delete(upvote, headers=bob).json["upvotes"] == 1
    admin_view = {q["id"]: q["upvotes"] for q in _poll(client, tenant.webinar_id, admin).json["questions"]}
    assert admin_view[answered] == 1

    # Bob cannot see Ann's pending question, so cannot upvote it either.
    response = client.post(_url(tenant.webinar_id, f"/{ids['ann pending']}/upvote"), headers=bob)
    assert response.status_code == 404 and response.is_json


def test_a_current_question_poll_makes_no_database_work(client, qa, pool_checkouts):
    tenant, _, bob, _, _ = qa
    current = _poll(client, tenant.webinar_id, bob, status="answered").json["next"]
    before = pool_checkouts()
    assert _poll(client, tenant.webinar_id, bob, status="answered", after=current).json["questions"] == []
    assert pool_checkouts() == before
