"""Browsers open the stream with a one-time ticket: no token in any URL, so none in any log."""

import json
import os
import signal
import time

from tests.stream.conftest import Stream, start_logged


def _ticket(client, webinar_id, headers):
    answer = client.post(f"/api/webinars/{webinar_id}/events/tickets", headers=headers)
    assert answer.status_code == 201, answer.json
    return answer.json["ticket"]


def test_a_ticket_opens_one_stream_once_and_only_for_its_webinar(client, make_tenant, open_stream):
    tenant = make_tenant(webinars=2)
    _, viewer = tenant.participant()
    ticket = _ticket(client, tenant.webinar_id, viewer)
    assert open_stream(tenant.webinar_ids[1], query=f"?ticket={ticket}").status == 401  # another webinar's: spent
    ticket = _ticket(client, tenant.webinar_id, viewer)
    stream = open_stream(tenant.webinar_id, query=f"?ticket={ticket}")
    assert stream.status == 200
    assert stream.next() == {"retry": "2000"}
    assert open_stream(tenant.webinar_id, query=f"?ticket={ticket}").status == 401  # spent
    assert client.post(f"/api/webinars/{tenant.webinar_ids[0]}/events/tickets").status_code == 401


def test_tickets_are_rate_limited_per_caller(client, make_tenant):
    """Each ticket is a Redis write: a looping client is refused (429 + Retry-After), not served."""
    tenant = make_tenant()
    _, viewer = tenant.participant()
    url = f"/api/webinars/{tenant.webinar_id}/events/tickets"
    answers = [client.post(url, headers=viewer) for _ in range(21)]
    assert [answer.status_code for answer in answers] == [201] * 20 + [429]
    assert int(answers[-1].headers["Retry-After"]) > 0


def test_no_token_reaches_any_log(client, make_tenant, settings, services):
    """The stream process with gunicorn's access log on, the app's JSON log and gunicorn's error
    log all in one file: the token that opened, used and lost streams is in none of it."""
    base, master, path = start_logged(settings, services, "stream-logs")
    try:
        tenant = make_tenant()
        _, viewer = tenant.participant()
        token = viewer["Authorization"].removeprefix("Bearer ")
        stream = Stream(
            base, f"/api/webinars/{tenant.webinar_id}/events?ticket={_ticket(client, tenant.webinar_id, viewer)}"
        )
        assert stream.status == 200
        stream.wait_for("access")
        stream.close()
        refused = Stream(base, f"/api/webinars/{tenant.webinar_id}/events?ticket=spent-or-never-issued")
        assert refused.status == 401
        refused.close()
        header = Stream(base, f"/api/webinars/{tenant.webinar_id}/events", viewer)
        header.next()
        header.close()
    finally:
        master.send_signal(signal.SIGTERM)
        master.wait(timeout=30)
    with open(path) as log:
        text = log.read()
    assert f"/api/webinars/{tenant.webinar_id}/events?ticket=" in text  # the access log was on
    assert token not in text
    assert token.split(".")[2] not in text  # not even the signature


def test_a_reload_ends_streams_with_a_retry_and_they_resume_on_the_new_worker(client, make_tenant, settings, services):
    base, master, _ = start_logged(settings, services, "stream-reload", env={"EVENTFLOW_STREAM_MAX_CONNECTIONS": "2"})
    try:
        tenant = make_tenant()
        _, viewer = tenant.participant()
        admin = tenant.client_admin()
        path = f"/api/webinars/{tenant.webinar_id}/events"
        first, second = Stream(base, path, viewer), Stream(base, path, viewer)
        full = Stream(base, path, viewer)
        assert (first.status, second.status, full.status) == (200, 200, 503)  # the process's cap
        assert full.response.getheader("Retry-After")
        assert (
            client.post(f"/api/webinars/{tenant.webinar_id}/messages", json={"body": "one"}, headers=admin).status_code
            == 201
        )
        first.wait_for("message")
        os.kill(master.pid, signal.SIGHUP)
        ending = first.until(lambda event: "retry" in event, timeout=15)[-1]
        assert ending == {"retry": "500"}
        cursor = first.last_id
        assert (
            client.post(f"/api/webinars/{tenant.webinar_id}/messages", json={"body": "two"}, headers=admin).status_code
            == 201
        )
        deadline = time.monotonic() + 15
        while True:  # the new worker may take a moment to come up
            resumed = Stream(base, path, viewer | {"Last-Event-ID": cursor})
            if resumed.status == 200 or time.monotonic() > deadline:
                break
            resumed.close()
            time.sleep(0.2)
        assert json.loads(resumed.wait_for("message")["data"])["body"] == "two"
        for stream in (first, second, full, resumed):
            stream.close()
    finally:
        master.send_signal(signal.SIGTERM)
        master.wait(timeout=30)
