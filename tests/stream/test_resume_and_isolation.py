"""Resuming without loss or repeats, who may open a stream, and what a participant never sees."""

import pytest

from tests.stream.conftest import data


def _messages(client, webinar_id, headers, count, prefix):
    for number in range(count):
        answer = client.post(
            f"/api/webinars/{webinar_id}/messages", json={"body": f"{prefix} {number}"}, headers=headers
        )
        assert answer.status_code == 201


def _bodies(events):
    return [data(event)["body"] for event in events if event.get("event") == "message"]


@pytest.mark.parametrize("how", ["Last-Event-ID", "after"])
def test_a_dropped_stream_resumes_with_nothing_lost_or_repeated(client, make_tenant, open_stream, how):
    tenant = make_tenant()
    _, viewer = tenant.participant()
    admin = tenant.client_admin()
    _messages(client, tenant.webinar_id, admin, 3, "before")
    first = open_stream(tenant.webinar_id, viewer)
    received = first.until(lambda event: _bodies([event]) == ["before 2"])
    cursor = first.last_id
    first.close()
    _messages(client, tenant.webinar_id, admin, 4, "while away")
    resume = {"Last-Event-ID": cursor} if how == "Last-Event-ID" else {}
    query = f"?after={cursor}" if how == "after" else ""
    second = open_stream(tenant.webinar_id, viewer | resume, query)
    received += second.until(lambda event: _bodies([event]) == ["while away 3"])
    _messages(client, tenant.webinar_id, admin, 1, "live")
    received += second.until(lambda event: _bodies([event]) == ["live 0"])
    expected = [f"before {n}" for n in range(3)] + [f"while away {n}" for n in range(4)] + ["live 0"]
    assert _bodies(received) == expected


def test_a_cursor_older_than_the_window_is_replayed_from_postgresql(client, make_tenant, open_stream, owner):
    # The suite's window holds the latest 300 changes: a stream from the start of 400 replays
    # the oldest from PostgreSQL, across more than one page of the poll query (200). (Written as
    # the owner: the API's rate limit would take minutes.)
    tenant = make_tenant()
    _, viewer = tenant.participant()
    owner.execute(
        """insert into messages (webinar_id, client_id, agency_id, user_id, author_role, display_name, body)
           select %s, %s, %s, gen_random_uuid(), 'participant', 'Old', 'old ' || n from generate_series(0, 398) n""",
        (tenant.webinar_id, tenant.client_id, tenant.agency_id),
    )
    _messages(client, tenant.webinar_id, tenant.client_admin(), 1, "new")
    received = open_stream(tenant.webinar_id, viewer).until(lambda event: _bodies([event]) == ["new 0"])
    assert _bodies(received) == [f"old {n}" for n in range(399)] + ["new 0"]


def test_another_tenants_admin_and_a_participant_the_polls_refuse_get_404(make_tenant, make_token, open_stream):
    tenant, other = make_tenant(), make_tenant()
    draft = make_tenant(status="draft")
    _, viewer_of_another_webinar = tenant.participant()
    bound = {"Authorization": f"Bearer {make_token('participant', webinar_id=str(other.webinar_id))}"}
    assert open_stream(tenant.webinar_id, other.client_admin()).status == 404
    assert open_stream(tenant.webinar_id, other.agency_admin()).status == 404
    assert open_stream(tenant.webinar_id, bound).status == 404  # the token names another webinar
    assert open_stream(draft.webinar_id, draft.participant()[1]).status == 404
    assert open_stream(draft.webinar_id, draft.client_admin()).status == 200  # admins see drafts, as the polls
    assert open_stream(tenant.webinar_id, tenant.agency_admin()).status == 200
    assert open_stream(tenant.webinar_id).status == 401


def test_bad_input_is_a_4xx(make_tenant, open_stream):
    tenant = make_tenant()
    _, viewer = tenant.participant()
    assert open_stream(tenant.webinar_id, viewer, "?after=12").status == 422
    assert open_stream(tenant.webinar_id, viewer | {"Last-Event-ID": "x:1"}).status == 422
    assert open_stream(tenant.webinar_id, viewer, "?session_id=nope").status == 422
    for hostile in ("nul%00inside", "C1%C2%85control", "bidi%E2%80%AEoverride", "x" * 65):
        assert open_stream(tenant.webinar_id, query=f"?ticket={hostile}").status == 401
        assert open_stream(tenant.webinar_id, viewer, f"?after={hostile}").status == 422


def test_an_api_process_answers_503_so_clients_keep_polling(client, make_tenant):
    # Only the stream process (gevent) holds streams: a thread per stream would starve the API.
    tenant = make_tenant()
    _, viewer = tenant.participant()
    answer = client.get(f"/api/webinars/{tenant.webinar_id}/events", headers=viewer)
    assert answer.status_code == 503
    assert answer.headers["Retry-After"]
