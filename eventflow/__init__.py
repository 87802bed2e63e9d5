"""EventFlow: the high-traffic backend of a multi-tenant webinar platform."""

import logging

from flask import Flask

from eventflow import (
    apidoc,
    auth,
    db,
    embedded,
    errors,
    fastlane,
    http,
    jsonlog,
    limits,
    metrics,
    overload,
    redis_client,
    tenancy,
)
from eventflow.access import lane as access_lane
from eventflow.access import snapshot
from eventflow.chat import lane as chat_lane
from eventflow.config import Settings
from eventflow.pages import views as pages

API_TITLE = "EventFlow"
API_VERSION = "1.0"


def create_app(settings=None, allow_embedded=True):
    """The app. With `allow_embedded` (development commands, tests), servers the environment
    leaves unset are started privately; production (wsgi.py) refuses to run without them."""
    settings = settings or Settings.from_env()
    if allow_embedded:
        settings = embedded.resolve(settings)
    else:
        settings.require_production()
    app = Flask(__name__, static_folder=None)  # the pages blueprint serves eventflow/static/
    http.match_paths_as_sent(app.url_map)
    app.config.update(
        API_TITLE=API_TITLE,
        API_VERSION=API_VERSION,
        OPENAPI_VERSION="3.1.0",
        OPENAPI_URL_PREFIX="/api",
        OPENAPI_JSON_PATH="openapi.json",
        MAX_CONTENT_LENGTH=http.MAX_BODY_BYTES,
        API_SPEC_OPTIONS={
            # Every operation needs a bearer token unless it says otherwise (the probes do).
            "security": [{"bearerAuth": []}],
            "components": {
                "securitySchemes": {"bearerAuth": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}}
            },
        },
    )
    app.extensions["eventflow.settings"] = settings
    # First, so that their after_request hooks run last and see the final response, the 503
    # of a failed commit included.
    jsonlog.init_app(app)
    metrics.init_app(app, settings)
    http.init_app(app, settings)
    logging.getLogger("pgserver").setLevel(logging.WARNING)

    redis_client.init_app(app, settings)
    limits.init_app(app, app.extensions["eventflow.redis"])
    db.init_app(app, settings)
    tenancy.init_app(app)
    auth.init_app(app, settings)
    snapshot.init_app(app, settings)

    api = errors.Api(app, spec_kwargs={"extra_plugins": [apidoc.SchemaConstraints()]})
    errors.init_app(app)
    _register_blueprints(api)
    app.register_blueprint(pages.blp)  # the HTML pages: no part of the API's OpenAPI document
    app.wsgi_app = fastlane.FastLane(app, app.wsgi_app, [access_lane.StatsAccess(app), *chat_lane.routes(app)])
    overload.init_app(app, settings)

    from eventflow import cli

    cli.init_app(app)
    from jobs import cli as jobs_cli

    jobs_cli.init_app(app)
    return app


def _register_blueprints(api):
    from eventflow.access.views import blp as access
    from eventflow.chat.views import blp as chat
    from eventflow.health.views import blp as health
    from eventflow.stats.views import blp as stats
    from eventflow.stream.views import blp as stream
    from eventflow.webinars.views import blp as webinars

    for blueprint in (health, webinars, access, chat, stats, stream):
        api.register_blueprint(blueprint)
