"""The poll breaker: its state machine, and a real outage between the app and PostgreSQL."""

import logging
import socket
import threading
import time

import psycopg
import pytest
from prometheus_client import REGISTRY
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from eventflow import metrics
from eventflow.breaker import CLOSED, EXTENSION_KEY, HALF_OPEN, OPEN, BreakerOpen, CircuitBreaker
from tests.conftest import checkouts


class FakeClock:
    def __init__(self):
        self.now = 100.0

    def __call__(self):
        return self.now


def _fail(breaker):
    with pytest.raises(psycopg.OperationalError), breaker.guard():
        raise psycopg.OperationalError("connection refused")


def _succeed(breaker):
    with breaker.guard() as probe:
        probe.reached_database()


def test_opens_after_consecutive_failures_probes_once_and_closes(caplog):
    clock = FakeClock()
    breaker = CircuitBreaker("test", failures=3, reset_seconds=10, clock=clock)
    caplog.set_level(logging.WARNING, logger="eventflow.breaker")
    _fail(breaker)
    _fail(breaker)
    _succeed(breaker)  # a success in between: the count starts again
    _fail(breaker)
    _fail(breaker)
    assert breaker.state == CLOSED
    _fail(breaker)
    assert breaker.state == OPEN
    assert "breaker test open after 3 database failures" in caplog.text

    with pytest.raises(BreakerOpen) as refused, breaker.guard():
        raise AssertionError("an open breaker must not run the block")
    assert 10 <= refused.value.retry_after <= 10 + 3

    clock.now += 10
    assert breaker.state == HALF_OPEN
    with breaker.guard() as probe:
        with pytest.raises(BreakerOpen), breaker.guard():
            pass  # only one probe at a time
        probe.reached_database()
    assert breaker.state == CLOSED
    assert "breaker test closed" in caplog.text


def _gauge(name):
    return REGISTRY.get_sample_value("eventflow_breaker_state", {"breaker": name})


def test_every_state_change_sets_the_gauge():
    clock = FakeClock()
    breaker = CircuitBreaker("gauge-test", failures=1, reset_seconds=5, clock=clock)
    assert _gauge("gauge-test") == metrics.BREAKER_CLOSED
    _fail(breaker)
    assert _gauge("gauge-test") == metrics.BREAKER_OPEN
    clock.now += 5
    with breaker.guard() as probe:
        assert _gauge("gauge-test") == metrics.BREAKER_HALF_OPEN
        probe.reached_database()
    assert _gauge("gauge-test") == metrics.BREAKER_CLOSED


def test_a_failed_probe_reopens_and_a_probe_without_database_work_decides_nothing():
    clock = FakeClock()
    breaker = CircuitBreaker("test", failures=1, reset_seconds=5, clock=clock)
    _fail(breaker)
    clock.now += 5
    with breaker.guard():
        pass  # e.g. a cached answer: proves nothing about the database
    assert breaker.state == HALF_OPEN
    _fail(breaker)
    assert breaker.state == OPEN
    clock.now += 4
    with pytest.raises(BreakerOpen):
        _succeed(breaker)
    clock.now += 1
    _succeed(breaker)
    assert breaker.state == CLOSED


class CuttableLink:
    """A TCP relay in front of PostgreSQL that a test can cut (every connection dropped, new
    ones refused) and restore on the same port: a real outage, as the app's pool sees it."""

    def __init__(self, database_url):
        params = conninfo_to_dict(database_url)
        host, port = params.get("host") or "/tmp", int(params.get("port") or 5432)
        if host.startswith("/"):
            self._target = (socket.AF_UNIX, f"{host}/.s.PGSQL.{port}")
        else:
            self._target = (socket.AF_INET, (host, port))
        self._params = params
        self._sockets, self._lock = set(), threading.Lock()
        self._listener, self.port = None, 0

    @property
    def url(self):
        return make_conninfo(**(self._params | {"host": "127.0.0.1", "port": str(self.port)}))

    def open(self):
        listener = socket.socket()
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", self.port))
        listener.listen(16)
        listener.settimeout(0.05)
        self.port, self._listener = listener.getsockname()[1], listener
        threading.Thread(target=self._accept, args=(listener,), daemon=True).start()

    def cut(self):
        self._listener.close()
        with self._lock:
            for sock in self._sockets:
                try:
                    sock.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
                sock.close()
            self._sockets.clear()

    def _accept(self, listener):
        while listener.fileno() != -1:
            try:
                downstream, _ = listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            downstream.settimeout(None)
            upstream = socket.socket(self._target[0])
            upstream.connect(self._target[1])
            with self._lock:
                self._sockets |= {downstream, upstream}
            for source, sink in ((downstream, upstream), (upstream, downstream)):
                threading.Thread(target=self._pump, args=(source, sink), daemon=True).start()

    @staticmethod
    def _pump(source, sink):
        try:
            while data := source.recv(65536):
                sink.sendall(data)
        except OSError:
            pass
        finally:
            for sock in (source, sink):
                try:
                    sock.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass


@pytest.fixture
def linked_app(services, make_app):
    link = CuttableLink(services["app_url"])
    link.open()
    app = make_app(
        database_url=link.url,
        db_pool_min=1,
        db_pool_max=2,
        db_pool_timeout=0.5,
        poll_breaker_failures=3,
        poll_breaker_reset_seconds=1.0,
    )
    yield app, link
    link.cut()


def test_breaker_opens_on_a_real_outage_refuses_at_once_and_closes_when_back(linked_app, make_tenant):
    app, link = linked_app
    client = app.test_client()
    tenant = make_tenant()
    _, viewer = tenant.participant()
    url = f"/api/webinars/{tenant.webinar_id}/messages"
    assert client.post(url, json={"body": "before the outage"}, headers=viewer).status_code == 201
    assert client.get(url, headers=viewer).status_code == 200
    assert client.get("/readyz").json["checks"]["poll_breaker"] == "closed"

    link.cut()
    # Polls that are behind need PostgreSQL: they fail (503, bounded by the pool timeout) ...
    for _ in range(3):
        failed = client.get(url, headers=viewer)
        assert failed.status_code == 503 and failed.is_json
    assert client.get("/readyz").json["checks"]["poll_breaker"].startswith("open")

    # ... until the breaker opens: then the answer comes at once, without asking the pool.
    requests_before, started = checkouts(app), time.monotonic()
    refused = client.get(url, headers=viewer)
    elapsed = time.monotonic() - started
    assert refused.status_code == 503 and refused.is_json
    assert int(refused.headers["Retry-After"]) >= 1
    assert elapsed < 1.0, f"an open breaker answered in {elapsed:.2f} s"
    assert checkouts(app) == requests_before, "an open breaker touched the pool"
    assert _gauge("database-polls") == metrics.BREAKER_OPEN

    link.open()  # PostgreSQL is reachable again, on the same address
    deadline = time.monotonic() + 30
    while True:
        response = client.get(url, headers=viewer)
        if response.status_code == 200:
            break
        assert response.status_code == 503
        assert time.monotonic() < deadline, "the breaker did not close within 30 s of the database's return"
        time.sleep(0.2)
    assert [m["body"] for m in response.json["messages"]] == ["before the outage"]
    assert client.get("/readyz").json["checks"]["poll_breaker"] == "closed"
    assert _gauge("database-polls") == metrics.BREAKER_CLOSED


def test_an_open_breaker_still_answers_current_polls(make_app, make_tenant):
    # A poll whose cursor is current needs no database, so the breaker has nothing to refuse.
    app = make_app(poll_breaker_failures=1, poll_breaker_reset_seconds=60)
    client = app.test_client()
    tenant = make_tenant()
    _, viewer = tenant.participant()
    url = f"/api/webinars/{tenant.webinar_id}/messages"
    client.post(url, json={"body": "hello"}, headers=viewer)
    current = client.get(url, headers=viewer).json["next"]
    _fail(app.extensions[EXTENSION_KEY])
    requests_before = checkouts(app)
    answered = client.get(f"{url}?after={current}", headers=viewer)
    assert answered.status_code == 200 and answered.json["messages"] == []
    behind = client.get(f"{url}?after=0", headers=viewer)
    assert behind.status_code == 503 and int(behind.headers["Retry-After"]) >= 1
    assert behind.headers["Poll-Interval"] == behind.headers["Retry-After"]
    assert checkouts(app) == requests_before, "an open breaker touched the pool"
