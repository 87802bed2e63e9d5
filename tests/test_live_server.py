"""The service under gunicorn, as ops run it: smuggling refused, workers replaced when killed."""

import os
import signal
import socket
import threading
import time

import psutil

from tests.conftest import http_call


def _raw(port, payload):
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        sock.sendall(payload)
        return sock.recv(4096)


def test_content_length_with_transfer_encoding_is_refused(live_server):
    base, _ = live_server
    port = int(base.rsplit(":", 1)[1])
    smuggled = (
        b"POST /healthz HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n"
        b"0\r\n\r\nGET /readyz HTTP/1.1\r\nHost: x\r\n\r\n"
    )
    answer = _raw(port, smuggled)
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
