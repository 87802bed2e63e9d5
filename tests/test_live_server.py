"""The service under gunicorn, as ops run it: smuggling refused, workers replaced when killed,
broken and refused bodies and pipelined requests handled cleanly (issue 11, rows 5 and 6)."""

import json
import os
import signal
import threading
import time

import psutil
import pytest

from tests.conftest import http_call, http_responses, raw_exchange


def test_content_length_with_transfer_encoding_is_refused(live_server):
    smuggled = (
        b"POST /healthz HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n"
        b"0\r\n\r\nGET /readyz HTTP/1.1\r\nHost: x\r\n\r\n"
    )
    answer = raw_exchange(live_server[0], smuggled)
    assert answer.startswith(b"HTTP/1.1 400"), answer[:80]


def test_overlong_request_line_is_refused(live_server):
    base, _ = live_server
    status = http_call(f"{base}/healthz?{'x' * 10_000}")
    assert status in (400, 414)


def test_a_killed_worker_is_replaced_and_only_in_flight_requests_fail(live_server, make_tenant):
    base, master = live_server
    tenant = make_tenant()
    _, headers = tenant.participant()
    poll = f"{base}/api/webinars/{tenant.webinar_id}/stats/access"
    assert http_call(poll, headers=headers) == 200
    statuses, stop = [], threading.Event()

    def crowd():
        while not stop.is_set():
            try:
                statuses.append(http_call(f"{base}/healthz", timeout=5))
            except OSError:
                statuses.append("connection error")

    threads = [threading.Thread(target=crowd) for _ in range(4)]
    for thread in threads:
        thread.start()
    time.sleep(0.5)
    workers = psutil.Process(master.pid).children()
    victim = workers[0].pid
    os.kill(victim, signal.SIGKILL)
    deadline = time.monotonic() + 15
    while True:
        pids = {child.pid for child in psutil.Process(master.pid).children()}
        if len(pids) == len(workers) and victim not in pids:
            break
        assert time.monotonic() < deadline, "the master did not replace the killed worker"
        time.sleep(0.1)
    time.sleep(0.5)
    stop.set()
    for thread in threads:
        thread.join()
    failures = [status for status in statuses if status != 200]
    assert len(statuses) > 50
    assert len(failures) <= len(threads), failures  # at most the requests in flight at the kill
    assert http_call(poll, headers=headers) == 200


def _post_head(path, headers, framing):
    lines = [f"POST {path} HTTP/1.1", "Host: x", "Content-Type: application/json", framing]
    lines += [f"{name}: {value}" for name, value in headers.items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


@pytest.mark.parametrize(
    "chunks",
    [b"zz\r\n{}\r\n0\r\n\r\n", b"2\r\n{}\r\n0\r\nContent-Length: 5\r\n\r\n"],
    ids=["malformed chunk size", "content-length trailer"],
)
def test_a_broken_chunked_body_is_a_400_json_and_the_connection_closes(live_server, make_tenant, chunks):
    """Row 5: gunicorn's parse errors while the app reads a body are the client's fault."""
    tenant = make_tenant()
    _, headers = tenant.participant()
    path = f"/api/webinars/{tenant.webinar_id}/messages"
    answer = raw_exchange(live_server[0], _post_head(path, headers, "Transfer-Encoding: chunked") + chunks)
    ((status, headers, body),) = http_responses(answer)  # one answer, then the connection is closed
    assert (status, headers["connection"], headers["content-type"]) == (400, "close", "application/json")
    assert json.loads(body)["code"] == 400


SERVERS = ["front_server", "live_server"]


def _base(request, server):
    found = request.getfixturevalue(server)
    return found if isinstance(found, str) else found[0]


@pytest.mark.parametrize("server", SERVERS)
def test_a_refused_body_closes_the_connection_and_the_next_request_is_served(request, server, make_tenant):
    """Row 6: a 3 MB body is refused (413 JSON) before it is read, the answer says
    `Connection: close`, and a keep-alive client's next request, on a new connection as it was
    told, is answered. Through the front and against gunicorn alone."""
    base = _base(request, server)
    tenant = make_tenant()
    _, headers = tenant.participant()
    body = b"x" * (3 * 1024 * 1024)
    path = f"/api/webinars/{tenant.webinar_id}/messages"
    answer = raw_exchange(base, _post_head(path, headers, f"Content-Length: {len(body)}") + body)
    ((status, headers, payload),) = http_responses(answer)
    assert (status, headers["connection"], headers["content-type"]) == (413, "close", "application/json")
    assert json.loads(payload)["code"] == 413
    assert http_call(f"{base}/healthz") == 200


@pytest.mark.parametrize("server", SERVERS)
def test_pipelined_requests_are_all_answered_in_order(request, server):
    """Row 6: three requests sent at once on one connection get three answers, in order."""
    pipelined = (
        b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n"
        b"GET /api/no-such-thing HTTP/1.1\r\nHost: x\r\n\r\n"
        b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
    )
    answer = raw_exchange(_base(request, server), pipelined)
    assert [status for status, _, _ in http_responses(answer)] == [200, 404, 200]
