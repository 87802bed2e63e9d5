"""More than one app machine: two gunicorn instances on their own ports, sharing one database and
one Redis, as two machines behind a proxy would (docs/scale-out.md). A caller's requests are
split between them: the rate limit is the caller's across both, the stats/access snapshot is
rebuilt at most once per max age across both, and a poll on one sees a write made through the
other as soon as its recent marker has aged (feed_marker_recent_seconds)."""

import json
import math
import signal
import time
import urllib.error
import urllib.request

import pytest
from prometheus_client.parser import text_string_to_metric_families

from eventflow import limits
from eventflow.serve import start_web
from tests.conftest import _free_port

PING_LIMIT = int(limits.PRESENCE_PING.split()[0])


@pytest.fixture(scope="module")
def instances(settings):
    """Two gunicorn instances, one worker each (so that each /metrics is its whole process)."""
    masters, urls = [], []
    for _ in range(2):
        bind = f"127.0.0.1:{_free_port()}"
        masters.append(start_web(settings, bind, workers=1))
        urls.append(f"http://{bind}")
    yield urls
    for master in masters:
        master.send_signal(signal.SIGTERM)
        master.wait(timeout=30)


def call(url, method="GET", headers=None, body=None):
    """(status, headers, JSON body or None) of one real request."""
    data = None if body is None else json.dumps(body).encode()
    headers = dict(headers or {}) | ({"Content-Type": "application/json"} if data is not None else {})
    request = urllib.request.Request(url, data=data, method=method, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            status, answer_headers, raw = response.status, response.headers, response.read()
    except urllib.error.HTTPError as error:
        status, answer_headers, raw = error.code, error.headers, error.read()
    return status, answer_headers, json.loads(raw) if raw else None


def test_a_rate_limit_holds_across_both_instances(instances, make_tenant):
    tenant = make_tenant()
    _, viewer = tenant.participant()
    statuses, retry_after = [], []
    for n in range(2 * PING_LIMIT):  # each instance alone would admit all of its half
        # Alternating, slower than the counters' sync (0.1 s). An instance counts on from the
        # shared total it learned at its own last hit, so it may admit one more than the limit
        # on the other's latest hit: the bound of eventflow/limit_storage.py, one per other process.
        status, headers, _ = call(
            f"{instances[n % 2]}/api/webinars/{tenant.webinar_id}/presence/ping", "POST", viewer, {}
        )
        statuses.append(status)
        if status == 429:
            retry_after.append(headers["Retry-After"])
        time.sleep(0.3)
    admitted = statuses.count(200)
    assert PING_LIMIT <= admitted <= PING_LIMIT + 1, statuses
    assert statuses == [200] * admitted + [429] * (2 * PING_LIMIT - admitted), statuses
    assert all(int(value) > 0 for value in retry_after)


def _rebuilds(instances):
    total = 0
    for base in instances:
        with urllib.request.urlopen(f"{base}/metrics", timeout=10) as response:
            text = response.read().decode()
        for family in text_string_to_metric_families(text):
            for sample in family.samples:
                if sample.name == "eventflow_snapshot_rebuilds_total":
                    total += sample.value
    return total


def test_the_snapshot_is_rebuilt_at_most_once_per_max_age_across_both(instances, make_tenant, settings):
    tenant = make_tenant()
    viewers = [tenant.participant()[1] for _ in range(20)]
    url = f"/api/webinars/{tenant.webinar_id}/stats/access"
    for n, viewer in enumerate(viewers):  # every process has seen the webinar once
        assert call(instances[n % 2] + url, headers=viewer)[0] == 200
    before, started = _rebuilds(instances), time.monotonic()
    polls = 0
    while time.monotonic() - started < 3.0:
        assert call(instances[polls % 2] + url, headers=viewers[polls % len(viewers)])[0] == 200
        polls += 1
        time.sleep(0.02)
    elapsed = time.monotonic() - started
    rebuilt = _rebuilds(instances) - before
    assert polls > 40
    # The first rebuild may come at once, then at most one per max age: never one per process.
    assert 1 <= rebuilt <= math.ceil(elapsed / settings.snapshot_max_age_seconds) + 1, (rebuilt, elapsed)


@pytest.mark.parametrize(
    ("feed", "body"), [("messages", {"body": "hello"}), ("questions", {"body": "why?", "is_public": True})]
)
def test_a_poll_on_one_instance_sees_a_write_through_the_other_once_its_marker_aged(
    instances, make_tenant, settings, feed, body
):
    tenant = make_tenant()
    _, writer = tenant.participant(name="Writer")
    base = f"/api/webinars/{tenant.webinar_id}/{feed}"
    cursor = "0"
    for writes_on, polls_on in ((0, 1), (1, 0)):
        # An empty poll first: the polling instance has the feed's head in hand before the write.
        status, _, empty = call(instances[polls_on] + f"{base}?after={cursor}", headers=writer)
        assert status == 200 and empty[feed] == []
        status, _, written = call(instances[writes_on] + base, "POST", writer, body)
        assert status == 201
        time.sleep(settings.feed_marker_recent_seconds)  # a client's next poll comes seconds later
        status, _, polled = call(instances[polls_on] + f"{base}?after={cursor}", headers=writer)
        assert status == 200
        assert [row["id"] for row in polled[feed]] == [written["id"]]
        cursor = polled["next"]
