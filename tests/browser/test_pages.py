"""The pages in real headless Chromium against gunicorn on the suite's real servers (issue 14).

Every page a test opens is checked for console errors and CSP violations when the test ends
(`pages` fixture). Cadences are shortened (harness.FAST_SERVER_ENV): stats/access every 2 s,
chat and Q&A polls every second.
"""

import json
import time
import urllib.request
import uuid
from datetime import UTC, datetime, timedelta

import psycopg
import pytest
from psycopg.rows import dict_row

from jobs import access_logs, attendance
from tests import brute_force
from tests.browser.harness import open_page


def token_of(headers):
    return headers["Authorization"].removeprefix("Bearer ")


def api_get(base, path, headers, raw=False):
    request = urllib.request.Request(base + path, headers=headers)
    with urllib.request.urlopen(request, timeout=10) as response:
        body = response.read().decode()
        return body if raw else json.loads(body)


def watch_url(base, tenant, headers):
    return f"{base}/watch/{tenant.webinar_id}#token={token_of(headers)}"


def console_url(base, tenant):
    return f"{base}/admin/webinars/{tenant.webinar_id}#token={token_of(tenant.client_admin())}"


def entered(page):
    """Wait until the watch page is in: its own entry is on the live list."""
    page.wait_for_selector("#viewers li.me", timeout=10_000)


def test_the_token_moves_from_the_fragment_into_session_storage(page_server, make_tenant, pages):
    tenant = make_tenant()
    _, headers = tenant.participant()
    page, _ = pages(watch_url(page_server, tenant, headers))
    entered(page)
    assert page.url == f"{page_server}/watch/{tenant.webinar_id}"  # the address bar is clear
    assert page.evaluate("sessionStorage.getItem('eventflow.token')") == token_of(headers)
    page.reload()  # the tab keeps it
    entered(page)


def test_a_viewer_appears_in_the_console_live_list_within_6_s(page_server, make_tenant, pages):
    tenant = make_tenant()
    user_id, headers = tenant.participant(name="Grace Hopper")
    console, _ = pages(console_url(page_server, tenant))
    console.wait_for_selector("body[data-mode=polls]")
    started = time.monotonic()
    pages(watch_url(page_server, tenant, headers))
    row = console.wait_for_selector(f'#viewers tr[data-user-id="{user_id}"]', timeout=6_000)
    assert time.monotonic() - started <= 6
    assert "Grace Hopper" in row.inner_text()


def test_a_second_device_stops_the_first_which_says_so_and_sends_nothing_more(page_server, make_tenant, pages):
    tenant = make_tenant()
    _, headers = tenant.participant()
    first, first_log = pages(watch_url(page_server, tenant, headers), before_load=lambda p: p.clock.install())
    entered(first)
    second, second_log = pages(watch_url(page_server, tenant, headers), before_load=lambda p: p.clock.install())
    entered(second)
    notice = first.wait_for_selector("#notice:not([hidden])", timeout=6_000)
    assert "another device" in notice.inner_text()
    sent = len(first_log.api_requests)
    # Jump well past every cadence (ping 48 s, track 120 s here): any timer still set fires now.
    first.clock.fast_forward("10:00")
    second.clock.fast_forward("10:00")
    # Polls every 1-2 s would have gone out by now. (Waiting through Playwright, not time.sleep:
    # the page's events reach Python only while Playwright is called.)
    first.wait_for_timeout(3_000)
    second.wait_for_timeout(500)
    assert first_log.api_requests[sent:] == []
    assert "/presence/ping" in " ".join(second_log.api_requests)  # the same jump makes a live page ping
    assert second.is_hidden("#notice")


def two_watch_pages(base, tenant, pages):
    """Ada's and Bob's watch pages of the tenant's webinar, both entered."""
    opened = [pages(watch_url(base, tenant, tenant.participant(name=name)[1]))[0] for name in ("Ada", "Bob")]
    for page in opened:
        entered(page)
    return opened


def send(page, form, text):
    page.fill(f"#{form} input[name=body]", text)
    page.click(f"#{form} button[type=submit]")


def test_a_message_reaches_another_watch_page_within_3_s_over_the_polls(page_server, make_tenant, pages):
    sender, receiver = two_watch_pages(page_server, make_tenant(), pages)
    # page_server has no stream process and offers none: both pages run on the polls (the
    # stream's fallback; test_stream.py has the real stream).
    assert sender.get_attribute("body", "data-mode") == receiver.get_attribute("body", "data-mode") == "polls"
    text = f"hello from Ada {uuid.uuid4().hex[:6]}"
    send(sender, "chat-form", text)
    started = time.monotonic()
    receiver.wait_for_selector(f"#messages li:has-text('{text}')", timeout=3_000)
    assert time.monotonic() - started <= 3


def test_moderation_from_the_console_reaches_watch_pages(page_server, make_tenant, pages):
    tenant = make_tenant()
    asker, reader = two_watch_pages(page_server, tenant, pages)
    console, _ = pages(console_url(page_server, tenant))
    send(asker, "chat-form", "a rude remark")
    send(asker, "ask-form", "When is the replay online?")
    reader.wait_for_selector("#messages li:has-text('a rude remark')", timeout=5_000)

    console.click("#messages li:has-text('a rude remark') button.act")  # Hide
    reader.wait_for_selector("#messages li:has-text('a rude remark')", state="detached", timeout=5_000)

    question = console.wait_for_selector("#questions li:has-text('When is the replay online?')", timeout=5_000)
    question.query_selector("input[name=answer]").fill("Tomorrow at noon.")
    question.query_selector("button[type=submit]").click()
    # The answered public question reaches everyone, not only the asker.
    for page in (asker, reader):
        page.wait_for_selector("#questions li:has-text('Tomorrow at noon.')", timeout=5_000)


@pytest.fixture
def watched_webinar(owner, make_tenant, services, settings):
    """A webinar with 12 viewers over the last 40 minutes and 3 registrants who never came,
    rolled up by the real jobs as eventflow_worker."""
    tenant = make_tenant()
    start = brute_force.bucket_of(datetime.now(UTC) - timedelta(minutes=45)) + timedelta(seconds=11)
    sessions = brute_force.generate_sessions(tenant.webinar_id, start, 40, viewers=12, seed=14)
    brute_force.insert_sessions(owner, tenant, sessions)
    viewers = sorted({user for (_, user, *_) in sessions})
    no_shows = [uuid.uuid4() for _ in range(3)]
    with owner.cursor() as cur:
        cur.executemany(
            """insert into registrations (webinar_id, client_id, agency_id, user_id, display_name)
               values (%s, %s, %s, %s, %s)""",
            [
                (tenant.webinar_id, tenant.client_id, tenant.agency_id, user, f"Viewer {n}")
                for n, user in enumerate(viewers + no_shows)
            ],
        )
    with psycopg.connect(services["worker_url"], row_factory=dict_row) as worker:
        access_logs.run(worker, settings, webinar_ids=[tenant.webinar_id])
        attendance.run(worker, settings, webinar_ids=[tenant.webinar_id])
    return tenant


def test_the_console_charts_the_rollup_shows_the_funnel_of_stats_and_downloads_the_csv(
    page_server, watched_webinar, pages, tmp_path
):
    tenant = watched_webinar
    admin = tenant.client_admin()
    stats = api_get(page_server, f"/api/webinars/{tenant.webinar_id}/stats", admin)
    assert len(stats["access"]["series"]) >= 8  # the rollup made the points the chart must show

    console, _ = pages(console_url(page_server, tenant))
    console.wait_for_selector("#funnel dd[data-figure=registered]")
    console.wait_for_selector("#chart canvas")
    points = json.loads(console.get_attribute("#chart", "data-points"))
    buckets = [
        [datetime.fromisoformat(b["time_bucket"]).timestamp(), b["concurrent_viewers"]]
        for b in stats["access"]["series"]
    ]
    assert points[: len(buckets)] == buckets
    # ... and then "now", from stats/access, once the live list has come. A function, not an
    # expression: Playwright evaluates an expression again at each poll, an eval the page's CSP
    # refuses once the first evaluation (inside DevTools' own call) has come out false.
    console.wait_for_function(
        "points => JSON.parse(document.getElementById('chart').dataset.points).length === points",
        arg=len(buckets) + 1,
    )

    funnel = {
        key: console.inner_text(f"#funnel dd[data-figure={key}]")
        for key in ("registered", "viewed", "attended", "no_shows")
    }
    registrants = stats["registrants"]
    assert funnel == {
        "registered": str(registrants["total"]),
        "viewed": str(registrants["viewed"]),
        "attended": str(registrants["attended"]),
        "no_shows": str(registrants["no_shows"]),
    }
    assert registrants["total"] == 15 and registrants["no_shows"] == 3
    for section in ("chat", "qa", "forms", "giveaways", "files", "registrants", "access", "survey", "sessions"):
        assert console.is_visible(f"#stats section[data-section={section}]"), section

    console.wait_for_selector("#attendance tr")
    assert len(console.query_selector_all("#attendance tr")) == 15
    with console.expect_download() as download:
        console.click("#attendance-csv")
    saved = tmp_path / download.value.suggested_filename
    download.value.save_as(saved)
    assert saved.name == f"attendance-{tenant.webinar_id}.csv"
    expected = api_get(page_server, f"/api/webinars/{tenant.webinar_id}/attendance?format=csv", admin, raw=True)
    assert saved.read_bytes() == expected.encode()  # byte for byte, CRLF line ends included
    assert len(expected.strip().splitlines()) == 16  # the header and one row per registrant


def test_the_landing_page_links_the_docs_which_render_every_operation(page_server, pages):
    landing, _ = pages(f"{page_server}/")
    landing.click("text=API documentation")
    landing.wait_for_selector(".opblock-summary-path", timeout=15_000)
    assert landing.url == f"{page_server}/api/docs"
    spec = api_get(page_server, "/api/openapi.json", {})
    operations = [
        (method.upper(), path)
        for path, item in spec["paths"].items()
        for method in item
        if method in ("get", "post", "put", "patch", "delete")
    ]
    rendered = landing.inner_text("#swagger-ui").replace("\u200b", "")  # Swagger UI breaks long paths
    for method, path in operations:
        assert f"{method}\n{path}" in rendered or f"{method} {path}" in rendered, (method, path)
    assert len(landing.query_selector_all(".opblock")) == len(operations)


def test_a_closed_watch_page_leaves_the_live_list(page_server, make_tenant, pages):
    tenant = make_tenant()
    user_id, headers = tenant.participant()
    console, _ = pages(console_url(page_server, tenant))
    viewer, _ = pages(watch_url(page_server, tenant, headers))
    row = f'#viewers tr[data-user-id="{user_id}"]'
    console.wait_for_selector(row, timeout=6_000)
    viewer.close()  # pagehide: access/exit goes out with keepalive as the page goes
    console.wait_for_selector(row, state="detached", timeout=6_000)


# A stand-in for the browser's EventSource that the test opens, feeds and breaks at will: it drives
# the client's switching between the stream and the polls in a case the real stream does not show
# (one that never opens, as behind a buffering proxy), while the polls and the stream's tickets
# are the real server's. test_stream.py runs the pages on the real stream.
FAKE_EVENT_SOURCE = """
window.EventSource = class extends EventTarget {
  static CONNECTING = 0; static OPEN = 1; static CLOSED = 2;
  static opened = [];
  constructor(url) { super(); this.url = String(url); this.readyState = 0; EventSource.opened.push(this); }
  close() { this.readyState = 2; }
};
window.__stream = {
  latest: () => EventSource.opened[EventSource.opened.length - 1],
  open() { const s = this.latest(); s.readyState = 1; s.dispatchEvent(new Event("open")); },
  send(type, data) { this.latest().dispatchEvent(new MessageEvent(type, { data: JSON.stringify(data) })); },
  fail() { const s = this.latest(); s.readyState = 2; s.dispatchEvent(new Event("error")); },
};
"""


def offer_the_stream(page):
    """Serve the watch page as a deployment with a stream process does: with its events URL."""
    page.add_init_script(FAKE_EVENT_SOURCE)

    def with_events_url(route):
        response = route.fetch()
        webinar_id = route.request.url.rstrip("/").rsplit("/", 1)[1]
        html = response.text().replace('data-events-url=""', f'data-events-url="/api/webinars/{webinar_id}/events"')
        route.fulfill(response=response, body=html)

    page.route("**/watch/*", with_events_url)


def polls_sent(log):
    return [url for url in log.api_requests if "/messages?" in url or "/questions?" in url or "/stats/access" in url]


def test_the_client_polls_while_the_stream_is_down_and_returns_to_it(page_server, make_tenant, pages):
    tenant = make_tenant()
    _, ada = tenant.participant(name="Ada")
    _, bob = tenant.participant(name="Bob")
    sender, _ = pages(watch_url(page_server, tenant, ada))
    receiver, log = pages(watch_url(page_server, tenant, bob), before_load=offer_the_stream)
    receiver.wait_for_function("() => window.EventSource.opened.length === 1")
    events_url = f"{page_server}/api/webinars/{tenant.webinar_id}/events?"
    assert receiver.evaluate("__stream.latest().url").startswith(events_url)

    # A stream that does not open (a buffering proxy, say) is given up for the polls after 10 s
    # (times the cadence scale) ...
    receiver.wait_for_selector("body[data-mode=polls]", timeout=8_000)
    assert "does not open" in receiver.inner_text("#connection")
    receiver.evaluate("__stream.open()")  # ... and taken up as soon as it opens.
    receiver.wait_for_selector("body[data-mode=stream]")
    row = {"id": 1, "author_role": "participant", "display_name": "Eve", "body": "over the stream", "hidden": False}
    row |= {"mine": False, "created_at": "2026-01-01T00:00:00Z"}  # a message poll's row
    receiver.evaluate("row => __stream.send('message', row)", row)
    receiver.wait_for_selector("#messages li:has-text('over the stream')")
    receiver.wait_for_timeout(500)  # a poll already in flight may still land
    polled = len(polls_sent(log))
    receiver.wait_for_timeout(2_500)
    assert len(polls_sent(log)) == polled  # while the stream works, nothing is polled

    receiver.evaluate("__stream.fail()")  # the server ended it for good (e.g. a 503)
    receiver.wait_for_selector("body[data-mode=polls]")
    entered(sender)
    send(sender, "chat-form", "sent while the stream is down")
    receiver.wait_for_selector("#messages li:has-text('sent while the stream is down')", timeout=3_000)

    # The client tries the stream again (30 s, times the test's cadence scale, with jitter).
    receiver.wait_for_function("() => window.EventSource.opened.length === 2", timeout=20_000)
    receiver.evaluate("__stream.open()")
    receiver.wait_for_selector("body[data-mode=stream]")
    receiver.wait_for_timeout(500)  # a poll already in flight may still land
    polled = len(polls_sent(log))
    receiver.wait_for_timeout(2_500)
    assert len(polls_sent(log)) == polled  # back on the stream, the polls stopped again


def test_stats_access_is_revalidated_with_its_etag(page_server, make_tenant, pages):
    tenant = make_tenant()
    _, headers = tenant.participant()
    answers = []
    page, _ = pages(
        watch_url(page_server, tenant, headers),
        before_load=lambda p: p.on(
            "response",
            lambda r: "/stats/access" in r.url and answers.append((r.status, r.request.headers.get("if-none-match"))),
        ),
    )
    entered(page)
    page.wait_for_timeout(5_000)  # two or three more polls of an unchanged list
    assert answers[0] == (200, None)
    assert any(status == 304 and etag for status, etag in answers[1:]), answers


def test_a_failing_server_is_given_its_retry_after_and_the_page_recovers(page_server, make_tenant, new_context):
    tenant = make_tenant()
    sender, _ = two_watch_pages(page_server, tenant, lambda url: open_page(new_context(), url))
    page, log = open_page(new_context(), watch_url(page_server, tenant, tenant.participant()[1]))
    entered(page)
    failing = []

    def unavailable(route):
        failing.append(route.request.url)
        route.fulfill(status=503, headers={"Retry-After": "4"}, json={"code": 503, "message": "try later"})

    page.route("**/messages?*", unavailable)
    page.wait_for_timeout(6_500)
    # Polled every second without Retry-After; with it, once and again after 4 s at the earliest.
    assert 1 <= len(failing) <= 2, failing
    page.unroute("**/messages?*")
    send(sender, "chat-form", "after the outage")
    page.wait_for_selector("#messages li:has-text('after the outage')", timeout=8_000)
    assert log.errors and all("503" in error for error in log.errors)  # only the outage's own
