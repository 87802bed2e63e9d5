"""The pages as HTTP answers: their own narrow CSP (the API keeps its own), no inline script or
style anywhere, static files with the right types, the stream offered only when served, and the
ready links of `seed demo`."""

import re
from html.parser import HTMLParser
from pathlib import Path

import pytest

from eventflow import auth
from eventflow.http import SECURITY_HEADERS
from eventflow.pages.csp import PAGE_POLICY
from eventflow.pages.views import EVENTS_RULE
from tests.conftest import JWT_SECRET

STATIC = Path(__file__).resolve().parents[2] / "eventflow" / "static"


def page_paths(webinar_id):
    return ["/", "/api/docs", f"/watch/{webinar_id}", f"/admin/webinars/{webinar_id}"]


class InlineCode(HTMLParser):
    """Collects whatever a strict CSP would refuse: inline scripts, style elements and
    attributes, event handler attributes."""

    def __init__(self):
        super().__init__()
        self.found = []

    def handle_starttag(self, tag, attrs):
        names = dict(attrs)
        if tag == "script" and "src" not in names:
            self.found.append("inline <script>")
        if tag == "style":
            self.found.append("<style>")
        self.found += [f"{tag}[{name}]" for name in names if name == "style" or name.startswith("on")]


def test_every_page_has_its_own_policy_and_the_api_keeps_the_strict_one(client, make_tenant):
    tenant = make_tenant()
    for path in page_paths(tenant.webinar_id):
        response = client.get(path)
        assert response.status_code == 200, path
        assert response.mimetype == "text/html"
        assert response.headers["Content-Security-Policy"] == PAGE_POLICY, path
        assert response.headers["X-Frame-Options"] == "DENY"
    _, headers = tenant.participant()
    api = client.get(f"/api/webinars/{tenant.webinar_id}", headers=headers)
    assert api.headers["Content-Security-Policy"] == SECURITY_HEADERS["Content-Security-Policy"]


def test_the_page_policy_allows_nothing_inline_and_no_other_origin():
    directives = dict(directive.split(" ", 1) for directive in PAGE_POLICY.split("; "))
    assert directives["default-src"] == "'none'"
    for name in ("script-src", "style-src", "connect-src"):
        assert directives[name] == "'self'", name
    assert "unsafe" not in PAGE_POLICY and "http" not in PAGE_POLICY and "*" not in PAGE_POLICY


def test_no_page_carries_inline_script_style_or_handlers(client, make_tenant):
    for path in page_paths(make_tenant().webinar_id):
        parser = InlineCode()
        parser.feed(client.get(path).get_data(as_text=True))
        assert parser.found == [], path


def test_no_page_script_writes_html():
    """Chat text is rendered as text: the page scripts never hand a string to the HTML parser."""
    for script in [STATIC / "eventflow-client.js", *(STATIC / "pages").glob("*.js")]:
        source = script.read_text()
        assert not re.search(r"innerHTML|outerHTML|insertAdjacentHTML|document\.write", source), script.name


@pytest.mark.parametrize(
    "path, mimetype",
    [
        ("/static/eventflow-client.js", "text/javascript"),
        ("/static/pages/watch.js", "text/javascript"),
        ("/static/style.css", "text/css"),
        ("/static/vendor/uplot/uPlot.esm.js", "text/javascript"),
        ("/static/vendor/swagger-ui/swagger-ui-bundle.js", "text/javascript"),
        ("/static/vendor/swagger-ui/swagger-ui.css", "text/css"),
    ],
)
def test_static_files_are_served_with_their_type_and_revalidated(client, path, mimetype):
    response = client.get(path)
    assert response.status_code == 200
    assert response.mimetype == mimetype  # nosniff refuses a script of any other type
    assert response.headers["Cache-Control"] == "no-cache"
    response.close()


def test_each_vendored_library_ships_with_its_licence():
    licences = {"uplot": "The MIT License", "swagger-ui": "Apache License"}
    for library, licence in licences.items():
        assert licence in (STATIC / "vendor" / library / "LICENSE").read_text(), library
    versions = dict(line.split() for line in (STATIC / "vendor" / "VERSIONS").read_text().splitlines())
    assert set(versions) == {"uplot", "swagger-ui-dist"}


def test_the_stream_is_offered_only_when_the_app_serves_it(make_app, make_tenant):
    webinar_id = make_tenant().webinar_id
    without = make_app()
    assert 'data-events-url=""' in without.test_client().get(f"/watch/{webinar_id}").get_data(as_text=True)
    with_stream = make_app()
    with_stream.add_url_rule(EVENTS_RULE, "events", lambda webinar_id: "")
    page = with_stream.test_client().get(f"/watch/{webinar_id}").get_data(as_text=True)
    assert f'data-events-url="/api/webinars/{webinar_id}/events"' in page


def test_the_cadence_scale_reaches_the_page(make_app, make_tenant):
    app = make_app(page_cadence_scale=0.25)
    page = app.test_client().get(f"/admin/webinars/{make_tenant().webinar_id}").get_data(as_text=True)
    assert 'data-cadence-scale="0.25"' in page


def test_a_page_of_a_malformed_webinar_id_is_a_json_404(client):
    response = client.get("/watch/not-a-uuid")
    assert response.status_code == 404 and response.is_json


def test_seed_demo_prints_ready_links_to_every_console_and_a_watch_page_per_live_webinar(app):
    output = app.test_cli_runner().invoke(args=["seed", "demo", "--base-url", "http://demo.test:8000/"]).output
    assert "http://demo.test:8000/api/docs" in output
    consoles = re.findall(r"http://demo\.test:8000/admin/webinars/([0-9a-f-]{36})#token=(\S+)", output)
    watches = re.findall(r"http://demo\.test:8000/watch/([0-9a-f-]{36})#token=(\S+)", output)
    roles = [auth.verify(token, JWT_SECRET, "eventflow").role for _, token in consoles]
    assert sorted(roles) == [auth.AGENCY_ADMIN] * 2 + [auth.CLIENT_ADMIN] * 4
    assert len(watches) == 4
    assert all(auth.verify(token, JWT_SECRET, "eventflow").role == auth.PARTICIPANT for _, token in watches)
