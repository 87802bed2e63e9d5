"""Webinars in scope: a client's, an agency's clients', and 404 for another tenant's."""

import uuid


def _ids(response):
    return {row["id"] for row in response.json}


def test_client_admin_lists_only_its_webinars(client, make_tenant):
    mine, theirs = make_tenant(webinars=2), make_tenant()
    response = client.get("/api/webinars", headers=mine.client_admin())
    assert response.status_code == 200
    assert _ids(response) == {str(w) for w in mine.webinar_ids}
    assert str(theirs.webinar_id) not in _ids(response)


def test_agency_admin_lists_its_clients_webinars(client, make_tenant, owner):
    tenant = make_tenant()
    sibling_client = owner.execute(
        "insert into clients (agency_id, name) values (%s, 'Sibling') returning id", (tenant.agency_id,)
    ).fetchone()["id"]
    sibling_webinar = owner.execute(
        """insert into webinars (client_id, agency_id, slug, title, starts_at, ends_at)
           values (%s, %s, 'sibling', 'Sibling webinar', now(), now() + interval '1 hour') returning id""",
        (sibling_client, tenant.agency_id),
    ).fetchone()["id"]
    other = make_tenant()
    response = client.get("/api/webinars", headers=tenant.agency_admin())
    assert _ids(response) == {str(tenant.webinar_id), str(sibling_webinar)}
    assert str(other.webinar_id) not in _ids(response)


def test_status_filter_and_bad_arguments(client, make_tenant):
    tenant = make_tenant(status="ended")
    headers = tenant.client_admin()
    assert _ids(client.get("/api/webinars?status=ended", headers=headers)) == {str(tenant.webinar_id)}
    assert client.get("/api/webinars?status=live", headers=headers).json == []
    for query in ("status=bogus", "limit=0", "limit=100000", "offset=-1", "limit=abc"):
        response = client.get(f"/api/webinars?{query}", headers=headers)
        assert response.status_code == 422, query
        assert response.is_json


def test_participant_has_no_webinar_list(client, make_tenant):
    _, headers = make_tenant().participant()
    assert client.get("/api/webinars", headers=headers).status_code == 403
    assert client.get("/api/webinars?limit=0", headers=headers).status_code == 403, "the role first, then the query"


def test_another_tenants_webinar_is_404_not_403(client, make_tenant):
    mine, theirs = make_tenant(), make_tenant()
    for headers in (mine.client_admin(), mine.agency_admin()):
        response = client.get(f"/api/webinars/{theirs.webinar_id}", headers=headers)
        assert response.status_code == 404
        assert response.json["message"] == "webinar not found"


def test_unknown_webinar_is_404(client, make_tenant):
    tenant = make_tenant()
    _, headers = tenant.participant()
    assert client.get(f"/api/webinars/{uuid.uuid4()}", headers=headers).status_code == 404
    assert client.get(f"/api/webinars/{uuid.uuid4()}", headers=tenant.client_admin()).status_code == 404


def test_participant_and_admins_read_the_webinar(client, make_tenant):
    tenant = make_tenant()
    _, participant = tenant.participant()
    for headers in (participant, tenant.client_admin(), tenant.agency_admin()):
        response = client.get(f"/api/webinars/{tenant.webinar_id}", headers=headers)
        assert response.status_code == 200
        assert response.json["id"] == str(tenant.webinar_id)
