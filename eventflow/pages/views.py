"""The HTML pages (contract §5 "Pages"): what the service is, its API documentation, the reference
participant page and the admin's live console. Each page is a static shell: its script takes the
bearer token from the URL fragment and talks to the JSON API like any other client, so the pages
hold no data and need no token themselves."""

from flask import Blueprint, current_app, render_template, request, url_for

from eventflow import config
from eventflow.pages.csp import with_page_policy

STATIC_FOLDER = "../static"
# The live channel (issue 13). The pages offer it to their client only once the app serves it.
EVENTS_RULE = "/api/webinars/<uuid:webinar_id>/events"

# Static files are not versioned in their names: browsers may keep them but ask each time.
STATIC_CACHE_CONTROL = "no-cache"

blp = Blueprint("pages", __name__, template_folder="templates", static_folder=STATIC_FOLDER, static_url_path="/static")


@blp.after_request
def revalidate_static_files(response):
    if request.endpoint == "pages.static":
        response.headers.setdefault("Cache-Control", STATIC_CACHE_CONTROL)
    return response


def _events_url(webinar_id):
    """The stream's URL when this app serves one, else "" (the client then polls)."""
    if any(rule.rule == EVENTS_RULE for rule in current_app.url_map.iter_rules()):
        return f"/api/webinars/{webinar_id}/events"
    return ""


def _client_settings(webinar_id):
    """What the page's client needs to know of the server, as data-* attributes."""
    return {
        "webinar-id": str(webinar_id),
        "events-url": _events_url(webinar_id),
        "cadence-scale": str(config.current().page_cadence_scale),
    }


@blp.get("/")
@with_page_policy
def landing():
    return render_template("landing.html", docs_url=url_for("pages.docs"))


@blp.get("/api/docs")
@with_page_policy
def docs():
    return render_template("docs.html", spec_url=url_for("api-docs.openapi_json"))


@blp.get("/watch/<uuid:webinar_id>")
@with_page_policy
def watch(webinar_id):
    return render_template("watch.html", client=_client_settings(webinar_id))


@blp.get("/admin/webinars/<uuid:webinar_id>")
@with_page_policy
def console(webinar_id):
    return render_template("console.html", client=_client_settings(webinar_id))
