"""Every event kind of the stream, under its real gevent worker."""

import uuid

import pytest

from tests.stream.conftest import data


def _post_message(client, webinar_id, headers, body="hello"):
    answer = client.post(f"/api/webinars/{webinar_id}/messages", json={"body": body}, headers=headers)
    assert answer.status_code == 201, answer.json
    return answer.json


def _poll(client, webinar_id, feed, headers, after="0"):
    answer = client.get(f"/api/webinars/{webinar_id}/{feed}?after={after}&limit=200", headers=headers)
    assert answer.status_code == 200, answer.json
    return answer.json


def test_a_message_arrives_as_the_poll_gives_it_and_a_hidden_one_as_removed(client, make_tenant, open_stream):
    tenant = make_tenant()
    _, viewer = tenant.participant()
    admin = tenant.client_admin()
    stream = open_stream(tenant.webinar_id, viewer)
    assert stream.status == 200
    assert stream.response.getheader("Content-Type").startswith("text/event-stream")
    assert stream.next() == {"retry": "2000"}
    posted = _post_message(client, tenant.webinar_id, admin)
    event = stream.wait_for("message")
    page = _poll(client, tenant.webinar_id, "messages", viewer)
    assert data(event) == page["messages"][0]
    assert event["id"] == f"{page['next']}:0"
    hidden = client.patch(
        f"/api/webinars/{tenant.webinar_id}/messages/{posted['id']}", json={"hidden": True}, headers=admin
    )
    assert hidden.status_code == 200
    event = stream.wait_for("removed")
    assert data(event) == {"feed": "messages", "ids": [posted["id"]]}


def test_a_question_reaches_its_author_and_the_admins_but_no_other_participant(client, make_tenant, open_stream):
    tenant = make_tenant()
    _, author = tenant.participant()
    _, other = tenant.participant()
    admin = tenant.client_admin()
    streams = {
        name: open_stream(tenant.webinar_id, headers)
        for name, headers in [("author", author), ("other", other), ("admin", admin)]
    }
    asked = client.post(
        f"/api/webinars/{tenant.webinar_id}/questions", json={"body": "private?", "is_public": False}, headers=author
    )
    assert asked.status_code == 201
    for name in ("author", "admin"):
        event = streams[name].wait_for("question")
        headers = author if name == "author" else admin
        assert data(event) == _poll(client, tenant.webinar_id, "questions", headers)["questions"][0]
    assert data(event)["id"] == asked.json["id"]
    # The other participant's stream moves its cursor past the question without showing it.
    head = _poll(client, tenant.webinar_id, "questions", admin)["next"]
    seen = streams["other"].until(lambda event: event.get("id", "").endswith(f":{head}"))
    assert [event for event in seen if event.get("event") == "question"] == []
    assert "data" not in seen[-1]


def test_heartbeats_keep_an_idle_stream_alive(make_tenant, open_stream):
    tenant = make_tenant()
    _, viewer = tenant.participant()
    stream = open_stream(tenant.webinar_id, viewer)
    stream.next()  # the retry hint
    events = [stream.next(timeout=5) for _ in range(3)]
    assert {"comment": "keep-alive"} in events


def test_access_is_sent_and_a_newer_session_supersedes_the_stream(client, make_tenant, open_stream):
    tenant = make_tenant()
    _, viewer = tenant.participant()
    track = client.post(f"/api/webinars/{tenant.webinar_id}/access/track", json={}, headers=viewer)
    assert track.status_code == 201
    session_id = track.json["session_id"]
    stream = open_stream(tenant.webinar_id, viewer, f"?session_id={session_id}")
    access = stream.wait_for("access")
    polled = client.get(f"/api/webinars/{tenant.webinar_id}/stats/access?session_id={session_id}", headers=viewer)
    assert data(access) | {"generated_at": None} == polled.json | {"generated_at": None}
    assert data(access)["viewers"][0]["me"] is True
    # The same viewer on another device: track without the session opens a new one.
    assert client.post(f"/api/webinars/{tenant.webinar_id}/access/track", json={}, headers=viewer).status_code == 201
    superseded = stream.wait_for("superseded", timeout=2)
    assert data(superseded) == {"superseded": True}


def test_a_token_that_expires_ends_the_stream_with_an_event(make_tenant, make_token, open_stream):
    tenant = make_tenant()
    token = make_token("participant", uuid.uuid4(), ttl=2)
    stream = open_stream(tenant.webinar_id, {"Authorization": f"Bearer {token}"})
    expired = stream.wait_for("expired", timeout=5)
    assert data(expired) == {"message": "the token expired"}
    with pytest.raises(EOFError):
        stream.next(timeout=3)
