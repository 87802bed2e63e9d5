"""A pooled connection never carries one request's tenant into the next (contract §3)."""

import pytest
from flask import g, jsonify

from eventflow import db
from eventflow.auth import ADMINS
from eventflow.tenancy import enter_tenant

PROBE = """
select pg_backend_pid() as backend,
       current_setting('app.role', true) as role,
       current_setting('app.client_id', true) as client_id,
       (select count(*) from webinars) as webinars_visible
"""


@pytest.fixture
def one_connection_app(make_app):
    app = make_app(db_pool_min=1, db_pool_max=1)

    @app.route("/_probe/<mode>")
    def probe(mode):
        if mode != "anonymous":
            enter_tenant(ADMINS)
        row = db.connection().execute(PROBE).fetchone()
        if mode == "raise":  # a write the policies refuse, mid-transaction
            db.connection().execute(
                """insert into webinars (client_id, agency_id, slug, title, starts_at, ends_at)
                   values (gen_random_uuid(), gen_random_uuid(), 'x', 'x', now(), now() + interval '1 hour')"""
            )
        return jsonify(row | {"context": str(g.get("db_context"))})

    yield app


def test_context_never_leaks_across_requests_on_one_connection(one_connection_app, make_tenant):
    client = one_connection_app.test_client()
    tenant_a, tenant_b = make_tenant(webinars=2), make_tenant()

    first = client.get("/_probe/admin", headers=tenant_a.client_admin()).json
    assert first["client_id"] == str(tenant_a.client_id)
    assert first["webinars_visible"] == 2

    second = client.get("/_probe/admin", headers=tenant_b.client_admin()).json
    assert second["backend"] == first["backend"], "the test needs the same pooled connection"
    assert second["client_id"] == str(tenant_b.client_id)
    assert second["webinars_visible"] == 1

    anonymous = client.get("/_probe/anonymous").json
    assert anonymous["backend"] == first["backend"]
    assert (anonymous["role"], anonymous["client_id"], anonymous["webinars_visible"]) == ("", "", 0)

    failed = client.get("/_probe/raise", headers=tenant_a.client_admin())
    assert failed.status_code == 404 and failed.is_json
    after_failure = client.get("/_probe/anonymous").json
    assert after_failure["backend"] == first["backend"]
    assert (after_failure["role"], after_failure["client_id"], after_failure["webinars_visible"]) == ("", "", 0)


def test_context_is_transaction_local_not_session_level(run_as, make_tenant):
    tenant = make_tenant()
    context = db.RequestContext(role="client_admin", client_id=tenant.client_id)
    inside = run_as(context, "select current_setting('app.client_id', true) as c").one["c"]
    assert inside == str(tenant.client_id)
    outside = run_as(db.NO_CONTEXT, "select current_setting('app.client_id', true) as c").one["c"]
    assert outside == ""


def test_after_commit_callbacks_run_only_once_the_transaction_committed(make_app):
    app = make_app()
    ran = []

    @app.route("/_write/<int:status>")
    def write(status):
        stage = db.connection().execute("select 'in the transaction' as stage").fetchone()["stage"]
        db.after_commit(lambda: ran.append((status, stage)))
        if status == 500:
            raise RuntimeError("the view failed after its write")
        return jsonify(ran=list(ran)), status

    client = app.test_client()
    assert client.get("/_write/200").json == {"ran": []}, "a callback ran before the commit"
    assert ran == [(200, "in the transaction")]
    assert client.get("/_write/404").status_code == 404
    assert client.get("/_write/500").status_code == 500
    assert ran == [(200, "in the transaction")], "a rolled-back request ran its callback"
