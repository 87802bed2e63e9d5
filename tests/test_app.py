"""The factory, the probes, the OpenAPI document and JSON errors."""

import json

import pytest

from eventflow import create_app, db
from eventflow.config import Settings
from eventflow.serve import PROJECT_DIR


def test_factory_binds_the_given_settings(settings):
    app = create_app(settings)
    assert app.extensions["eventflow.settings"] is settings
    assert not app.testing


def test_healthz_answers_without_dependencies(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json == {"status": "ok", "checks": {}}


def test_readyz_checks_database_and_redis(client):
    response = client.get("/readyz")
    assert response.status_code == 200
    assert response.json["checks"] == {"database": "ok", "redis": "ok", "poll_breaker": "closed"}


def test_openapi_document_is_served_and_requires_bearer_auth(client):
    spec = client.get("/api/openapi.json").json
    assert spec["info"]["title"] == "EventFlow"
    assert spec["components"]["securitySchemes"]["bearerAuth"]["scheme"] == "bearer"
    assert spec["security"] == [{"bearerAuth": []}]
    assert spec["paths"]["/healthz"]["get"]["security"] == []
    assert "/api/webinars/{webinar_id}" in spec["paths"]


def test_unknown_route_is_json_404(client):
    response = client.get("/no/such/thing")
    assert response.status_code == 404
    assert response.is_json and response.json["code"] == 404


def test_method_not_allowed_is_json_and_says_what_is_allowed(client):
    response = client.delete("/healthz")
    assert response.status_code == 405
    assert response.is_json
    assert response.headers["Allow"] == "GET, HEAD, OPTIONS"


@pytest.mark.parametrize(("path", "status"), [("//healthz", 200), ("/api//openapi.json", 404), ("/healthz/", 200)])
def test_a_path_is_matched_as_sent_never_redirected(client, path, status):
    """Issue 11 row 9: werkzeug answered a double slash with a 308, an HTML body and a Location
    built from the Host header. A trailing slash is optional, without a redirect either; werkzeug
    reads leading slashes as one. (The path goes in as PATH_INFO: given as a URL, "//healthz"
    would be read as host "healthz" and path "/", the landing page.)"""
    response = client.get(environ_overrides={"PATH_INFO": path}, headers={"Host": "attacker.example"})
    assert response.status_code == status and response.is_json
    assert "Location" not in response.headers


def test_malformed_webinar_id_is_404_json(client, make_tenant):
    _, headers = make_tenant().participant()
    response = client.get("/api/webinars/not-a-uuid", headers=headers)
    assert response.status_code == 404
    assert response.is_json


def test_production_refuses_to_start_without_its_servers():
    with pytest.raises(RuntimeError, match="set DATABASE_URL, REDIS_URL, EVENTFLOW_JWT_SECRET"):
        create_app(Settings.from_env({}), allow_embedded=False)


PRODUCTION = {"DATABASE_URL": "postgresql://db/app", "REDIS_URL": "redis://cache", "EVENTFLOW_JWT_SECRET": "s" * 64}


def test_production_refuses_to_serve_metrics_unauthenticated_unless_told_to():
    """Issue 11 row 2: /metrics needs a token in production, or an explicit decision that it is
    public (say, reachable only by the scraper)."""
    for refused in ({}, {"EVENTFLOW_METRICS_PUBLIC": "0"}, {"EVENTFLOW_METRICS_TOKEN": ""}):
        with pytest.raises(RuntimeError, match="EVENTFLOW_METRICS_TOKEN"):
            create_app(Settings.from_env(PRODUCTION | refused), allow_embedded=False)
    for allowed in ({"EVENTFLOW_METRICS_TOKEN": "scrape-me"}, {"EVENTFLOW_METRICS_PUBLIC": "1"}):
        Settings.from_env(PRODUCTION | allowed).require_production()
    with pytest.raises(ValueError, match="EVENTFLOW_METRICS_PUBLIC"):
        Settings.from_env(PRODUCTION | {"EVENTFLOW_METRICS_PUBLIC": "maybe"})


def test_a_missing_grant_is_a_500_not_a_hidden_404(make_app):
    app = make_app()

    @app.route("/_grantless")
    def grantless():
        db.connection().execute("select * from schema_migrations")  # the app has no grant on it
        return {}

    response = app.test_client().get("/_grantless")
    assert response.status_code == 500 and response.json["message"] == "internal error"


def test_the_committed_openapi_document_is_the_served_one(client):
    """openapi.json is committed so that a diff shows every API change; regenerate it with
    `eventflow openapi write openapi.json` when this fails."""
    committed = json.loads((PROJECT_DIR / "openapi.json").read_text())
    assert client.get("/api/openapi.json").json == committed
