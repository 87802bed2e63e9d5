"""The stream under its real worker class: gunicorn_stream.conf.py's gevent workers, on the
suite's PostgreSQL and Redis, beside the test process's app (which makes the writes)."""

import http.client
import json
import os
import signal
import time

import pytest

from eventflow.serve import start_stream
from tests.conftest import _free_port

# Short enough for a test to see a heartbeat.
STREAM_ENV = {"EVENTFLOW_STREAM_HEARTBEAT_SECONDS": "1", "GUNICORN_ACCESSLOG": "-"}
WAIT_SECONDS = 10


def start_logged(settings, services, name, env=None):
    """A stream process whose gunicorn and app log lines go to <state dir>/<name>.log:
    (base URL, master, log path)."""
    bind = f"127.0.0.1:{_free_port()}"
    path = os.path.join(services["state_dir"], f"{name}.log")
    with open(path, "ab") as log:
        master = start_stream(settings, bind, workers=1, output=log, env=STREAM_ENV | (env or {}))
    return f"http://{bind}", master, path


@pytest.fixture(scope="session")
def stream_server(settings, services):
    """(base URL, log path) of the suite's stream process."""
    base, master, path = start_logged(settings, services, "stream")
    yield base, path
    master.send_signal(signal.SIGTERM)
    master.wait(timeout=30)


class Stream:
    """One event stream read as a client reads it: events as dicts (id, event, data, retry),
    comments as {"comment": text}."""

    def __init__(self, base, path, headers=None):
        host, port = base.removeprefix("http://").rsplit(":", 1)
        self.connection = http.client.HTTPConnection(host, int(port), timeout=WAIT_SECONDS)
        self.connection.request("GET", path, headers=headers or {})
        self.response = self.connection.getresponse()
        self.status = self.response.status
        self.last_id = None
        self.buffer = b""

    def next(self, timeout=WAIT_SECONDS):
        """The next event or comment; raises TimeoutError if none comes in time."""
        self.connection.sock.settimeout(timeout)
        fields = {}
        while True:
            line = self._line()
            if not line:
                if fields:
                    if "id" in fields:
                        self.last_id = fields["id"]
                    return fields
                continue
            name, _, value = line.partition(":")
            value = value.removeprefix(" ")
            if name == "":
                return {"comment": value}
            fields[name] = fields.get(name, "") + value if name != "data" else value

    def _line(self):
        # Chunk by chunk (read1): http.client's readline of a chunked body waits for more than a line.
        while b"\n" not in self.buffer:
            chunk = self.response.read1(65536)
            if not chunk:
                raise EOFError("the stream ended")
            self.buffer += chunk
        line, self.buffer = self.buffer.split(b"\n", 1)
        return line.decode()

    def until(self, predicate, timeout=WAIT_SECONDS):
        """Events (not comments) until one satisfies `predicate`, that one included."""
        deadline = time.monotonic() + timeout
        seen = []
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError(f"no such event in {timeout} s; saw {seen}")
            try:
                event = self.next(left)
            except TimeoutError:
                raise TimeoutError(f"no such event in {timeout} s; at {self.last_id}, saw {seen}") from None
            if "comment" in event:
                continue
            seen.append(event)
            if predicate(event):
                return seen

    def wait_for(self, kind, timeout=WAIT_SECONDS):
        """The next event of this kind."""
        return self.until(lambda event: event.get("event") == kind, timeout)[-1]

    def until_cursor(self, cursor, timeout=WAIT_SECONDS):
        """Every event until the stream's cursor reaches `cursor` ("m:q")."""
        if self.last_id == cursor:
            return []
        try:
            return self.until(lambda event: event.get("id") == cursor, timeout)
        except TimeoutError as exc:
            raise TimeoutError(f"the stream did not reach {cursor}: {exc}") from None

    def close(self):
        self.connection.close()


def data(event):
    return json.loads(event["data"])


@pytest.fixture
def open_stream(stream_server):
    """Factory of streams on the suite's stream process, closed after the test."""
    opened = []

    def open_(webinar_id, headers=None, query=""):
        stream = Stream(stream_server[0], f"/api/webinars/{webinar_id}/events{query}", headers)
        opened.append(stream)
        return stream

    yield open_
    for stream in opened:
        stream.close()
