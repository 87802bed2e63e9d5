"""Security headers, body limits, no stack traces, X-Forwarded-For only behind trusted proxies."""

import logging

from flask import request

from eventflow.http import SECURITY_HEADERS


def test_every_response_carries_the_security_headers(client, make_tenant):
    tenant = make_tenant()
    _, headers = tenant.participant()
    for response in (
        client.get("/healthz"),
        client.get("/no/such/route"),
        client.get(f"/api/webinars/{tenant.webinar_id}", headers=headers),
        client.get(f"/api/webinars/{tenant.webinar_id}/stats/access", headers=headers),
        client.post(f"/api/webinars/{tenant.webinar_id}/presence/ping", headers=headers, data="{bad"),
    ):
        for name, value in SECURITY_HEADERS.items():
            assert response.headers[name] == value, (response.request.path, name)
        assert response.headers["Cache-Control"] in ("no-store", "private, no-cache")


def test_errors_carry_no_stack_trace_or_sql(make_app, make_tenant):
    app = make_app()

    @app.route("/_boom")
    def boom():
        raise RuntimeError("select secret from pg_authid -- Traceback")

    response = app.test_client().get("/_boom")
    assert response.status_code == 500 and response.is_json
    assert response.json == {"code": 500, "status": "Internal Server Error", "message": "internal error"}
    assert b"Traceback" not in response.data and b"select" not in response.data


def test_every_error_has_code_status_and_message(client, make_tenant):
    """Errors nobody gave a message (an unknown route, a body that is not JSON, invalid fields)
    carry one all the same: found by the API fuzzer (tests/test_fuzz_api.py)."""
    tenant = make_tenant()
    _, headers = tenant.participant()
    base = f"/api/webinars/{tenant.webinar_id}"
    for response in (
        client.get("/no/such/route"),
        client.delete(f"{base}/presence/ping", headers=headers),
        client.post(f"{base}/presence/ping", headers=headers, data="{bad", content_type="application/json"),
        client.post(f"{base}/presence/ping", headers=headers, json={"session_id": "not-a-uuid"}),
        client.get("/api/webinars?limit=0", headers=tenant.client_admin()),
    ):
        body = response.json
        assert response.status_code in (400, 404, 405, 422) and body["code"] == response.status_code, body
        assert body["status"] and isinstance(body["message"], str) and body["message"], body


def _client_address_app(make_app, proxies):
    app = make_app(trusted_proxies=proxies)

    @app.route("/_addr")
    def addr():
        return {"remote_addr": request.remote_addr}

    return app


def test_forwarded_for_is_ignored_without_trusted_proxies(make_app):
    app = _client_address_app(make_app, 0)
    response = app.test_client().get("/_addr", headers={"X-Forwarded-For": "6.6.6.6"})
    assert response.json["remote_addr"] == "127.0.0.1"


def test_forwarded_for_is_trusted_only_for_the_configured_hops(make_app):
    app = _client_address_app(make_app, 1)
    client = app.test_client()
    # a client forged the first entry; our one proxy appended the real address
    response = client.get("/_addr", headers={"X-Forwarded-For": "6.6.6.6, 203.0.113.7"})
    assert response.json["remote_addr"] == "203.0.113.7"


def test_the_503_of_a_failed_commit_carries_the_security_headers(make_app, owner):
    app = make_app()

    @app.route("/_commit_fails")
    def commit_fails():
        from eventflow import db

        pid = db.connection().execute("select pg_backend_pid() as pid").fetchone()["pid"]
        owner.execute("select pg_terminate_backend(%s)", (pid,))  # the commit will find it gone
        return {"written": True}

    response = app.test_client().get("/_commit_fails")
    assert response.status_code == 503 and response.is_json
    for name, value in SECURITY_HEADERS.items():
        assert response.headers[name] == value


def test_a_deeply_nested_body_is_a_400_json_without_a_traceback(client, make_tenant, caplog):
    """Issue 11 row 5: 5,000 nested objects (30 KB) made json.loads recurse out of stack: a 500
    with a traceback in the log."""
    tenant = make_tenant()
    _, headers = tenant.participant()
    body = '{"a":' * 5000 + "1" + "}" * 5000
    response = client.post(
        f"/api/webinars/{tenant.webinar_id}/messages", data=body, content_type="application/json", headers=headers
    )
    assert response.status_code == 400 and response.is_json
    assert response.json["message"] == "the body is nested too deeply"
    assert not [record for record in caplog.records if record.exc_info or record.levelno >= logging.ERROR]
