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


def test_method_not_allowed_is_json(client):
    response = client.delete("/healthz")
    assert response.status_code == 405
    assert response.is_json


def test_malformed_webinar_id_is_404_json(client, make_tenant):
    _, headers = make_tenant().participant()
    response = client.get("/api/webinars/not-a-uuid", headers=headers)
    assert response.status_code == 404
    assert response.is_json


def test_production_refuses_to_start_without_its_servers():
    with pytest.raises(RuntimeError, match="set DATABASE_URL, REDIS_URL, EVENTFLOW_JWT_SECRET"):
        create_app(Settings.from_env({}), allow_embedded=False)


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
